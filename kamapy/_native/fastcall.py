"""The per-message C calls without cffi's per-call cost: kp_fastcall.c's METH_FASTCALL
entry points, bound here once to the cffi module's functions (one copy of each).

    from kamapy._native.fastcall import scan, sl_reply_send, reg_refresh, address

Pointers travel as ints: address(cdata) once, where the cdata is made.
"""

from kamapy._native import _fastcall
from kamapy._native._kamapy_native import ffi, lib


def _address(name: str) -> int:
    return int(ffi.cast("uintptr_t", ffi.addressof(lib, name)))


def address(cdata) -> int:
    """A cffi pointer or array as the int the entry points take."""
    return int(ffi.cast("uintptr_t", cdata))


_fastcall.bind(_address("kp_sip_scan"), _address("kp_sl_reply_send"), _address("kp_reg_refresh"))

scan = _fastcall.scan                    # scan(data) -> bytes of int32s | negative int
sl_reply_send = _fastcall.sl_reply_send  # sl_reply_send(fd, af, data, scan, code, reason,
#   prefix, ip, port, force_rport, extra, server, body) -> int, as kp_sl_reply_send
reg_refresh = _fastcall.reg_refresh      # reg_refresh(ht, lock, key, ul_nums, data, scan,
#   sock, reg_nums, work, out, res) -> int, as kp_reg_refresh (pointers as ints)
reply_cap = _fastcall.reply_cap          # this thread's reply buffer size (for a test)
