"""Nonces in Kamailio 5.6's binary layout, so a nonce made by one server verifies on the
other when both share `secret` (a cluster of mixed servers keeps working).

    base64( expire:4 since:4 MD5(expire since [nid pf] secret1)
            [MD5(selected request parts, secret2)]          only with auth_checks_*
            [nid:4 pf:1] )                                  only with nonce_count / one_time_nonce

All integers big-endian. pf holds the nid pool number (low 6 bits) and two flags: the
nonce takes part in nonce-count (128) and one-time-nonce (64) tracking. The nonce
index state is shared memory created in the master before the fork:

- nid counters (one per pool, random start, +257 per nonce);
- nc array: one byte per tracked nonce, the highest nc seen (0xff = unknown, so a
  nonce from before a restart is refused);
- otn array: one bit per tracked nonce (set = used or unknown).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import random
import socket
import struct
import time

from kamapy.mem.counters import CounterArray
from kamapy.mem.lockset import LockSet
from kamapy.mem.shm import resolve_pool
from kamapy.sip.methods import METHOD_REGISTER

AUTH_CHECK_FULL_URI, AUTH_CHECK_CALLID, AUTH_CHECK_FROMTAG, AUTH_CHECK_SRC_IP = 1, 2, 4, 8
NF_VALID_NC_ID, NF_VALID_OT_ID, NF_POOL_NO_MASK = 128, 64, 63
NID_INC = 257
MIN_BIN_NONCE_LEN = 24
MAX_BIN_NONCE_LEN = 45
MIN_NONCE_LEN = (MIN_BIN_NONCE_LEN + 2) // 3 * 4

# check results (Kamailio's check_nonce)
OK, INVALID, TOO_SHORT, NO_MATCH, EXTRA_FAILED, STALE, BAD_NC, REUSED = 0, -1, 1, 2, 3, 4, 5, 6

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_UNB64 = [0xFF] * 256
for _i, _ch in enumerate(_B64):
    _UNB64[ord(_ch)] = _i


def b64_encode(raw: bytes) -> str:
    import base64
    return base64.b64encode(raw).decode("ascii")


def b64_decode(text: str, limit: int = MAX_BIN_NONCE_LEN) -> bytes | None:
    """Kamailio's base64_dec: length a multiple of 4, at most `limit` bytes out; a
    character outside the alphabet decodes to garbage bits, not an error."""
    n = len(text)
    if n < 4 or n % 4 or (text[-2] == "=" and text[-1] != "="):
        return None
    size = n // 4 * 3 - (text[-2] == "=") - (text[-1] == "=")
    if size > limit:
        return None
    try:
        # the usual nonce (ours, intact): the C decoder gives the same bytes
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (ValueError, UnicodeEncodeError):
        pass
    out = bytearray()
    for i in range(0, n, 4):
        a, b, c, d = (_UNB64[ord(ch) & 0xFF] for ch in text[i:i + 4])
        out += bytes(((a << 2 | b >> 4) & 0xFF, (b << 4 | c >> 2) & 0xFF, (c << 6 | d) & 0xFF))
    return bytes(out[:size])


class NonceState:
    """Secrets, settings and the shared nc / otn arrays (built by the auth mod_init)."""

    def __init__(self, *, secret: str | None, checks: tuple[int, int, int], expire: int,
                 max_drift: int, nc: bool, otn: bool, nc_size: int, otn_size: int,
                 pools: int, pool=None):
        self.checks_reg, self.checks_ood, self.checks_ind = checks
        self.expire = expire
        self.max_drift = max_drift
        if secret is None:
            rnd = random.SystemRandom()
            self.secret1 = bytes(32 + int(95 * rnd.random()) for _ in range(32))
            self.secret2 = bytes(32 + int(95 * rnd.random()) for _ in range(32))
        else:
            s = secret.encode("latin-1")
            if any(checks):
                # one half protects the expiry, the other the request parts
                half = len(s) // 2
                self.secret1, self.secret2 = s[:len(s) - half], s[len(s) - half:]
            else:
                self.secret1, self.secret2 = s, b""
        self.up_since = int(time.time())
        self.nc_enabled = nc
        self.otn_enabled = otn
        self.pools = pools
        self.pool_k = pools.bit_length() - 1
        self.nid = None
        if nc or otn:
            self.nid = CounterArray(pools, pool=pool)
            for p in range(pools):
                self.nid.set(p, random.getrandbits(31))
            self._pool = resolve_pool(pool)
            self._locks = LockSet(16, pool=self._pool)
        if nc:
            self.nc_size = nc_size
            self.nc_part_k = nc_size.bit_length() - 1 - self.pool_k
            self.nc_addr = self._pool.malloc(nc_size)
            self._pool.write(self.nc_addr, b"\xff" * nc_size)
        if otn:
            self.otn_size = otn_size
            self.otn_part_k = otn_size.bit_length() - 1 - self.pool_k
            nbytes = (otn_size + 7) // 8
            self.otn_addr = self._pool.malloc(nbytes)
            self._pool.write(self.otn_addr, b"\xff" * nbytes)

    # ------------------------------------------------------------ helpers
    def checks_for(self, msg) -> int:
        """Which auth_checks_* applies: REGISTER, in-dialog (To tag) or other."""
        if msg is None:
            return 0
        if msg.method_id == METHOD_REGISTER:
            return self.checks_reg
        try:
            tag = msg.to_hdr.tag
        except Exception:  # no or bad To: out of dialog, as Kamailio
            return self.checks_ood
        return self.checks_ind if tag else self.checks_ood

    def _extra_md5(self, cfg: int, msg) -> bytes:
        h = hashlib.md5()
        if cfg & AUTH_CHECK_FULL_URI:
            h.update(msg.current_uri.encode("latin-1"))
        if cfg & AUTH_CHECK_CALLID:
            try:
                h.update(msg.callid.encode("latin-1"))
            except Exception:
                pass
        if cfg & AUTH_CHECK_FROMTAG:
            try:
                h.update((msg.from_hdr.tag or "").encode("latin-1"))
            except Exception:
                pass
        if cfg & AUTH_CHECK_SRC_IP:
            ip = msg.rcv.src_ip
            h.update(socket.inet_pton(socket.AF_INET6 if ":" in ip else socket.AF_INET, ip))
        h.update(self.secret2)
        return h.digest()

    def _binary(self, head: bytes, nid_part: bytes, cfg: int, msg) -> bytes:
        md5_1 = hashlib.md5(head + nid_part + self.secret1).digest()
        if cfg and msg is not None:
            return head + md5_1 + self._extra_md5(cfg, msg) + nid_part
        return head + md5_1 + nid_part

    def _slot(self, nid: int, pool: int, part_k: int) -> int:
        return (nid & ((1 << part_k) - 1)) + (pool << part_k)

    def _overflow(self, nid: int, pool: int, part_k: int) -> bool:
        return ((self.nid.get(pool) - nid) & 0xFFFFFFFF) >= NID_INC * (1 << part_k)

    # ------------------------------------------------------------ new nonce
    def new_nonce(self, msg, rank: int = 0) -> str:
        t = int(time.time())
        cfg = self.checks_for(msg)
        nid_part = b""
        if self.nid is not None:
            pool = rank & (self.pools - 1)
            nid = self.nid.add(pool, NID_INC) & 0xFFFFFFFF
            pf = pool
            if self.nc_enabled:
                slot = self._slot(nid, pool, self.nc_part_k)
                self._pool.write(self.nc_addr + slot, b"\x00")
                pf |= NF_VALID_NC_ID
            if self.otn_enabled:
                self._otn_set(nid, pool, False)
                pf |= NF_VALID_OT_ID
            nid_part = struct.pack(">IB", nid, pf)
        head = struct.pack(">II", (t + self.expire) & 0xFFFFFFFF, t & 0xFFFFFFFF)
        return b64_encode(self._binary(head, nid_part, cfg, msg))

    def _otn_set(self, nid: int, pool: int, value: bool) -> bool:
        """Set / clear the nonce's bit; returns whether it was set before."""
        bit = self._slot(nid, pool, self.otn_part_k)
        addr = self.otn_addr + bit // 8
        mask = 1 << (bit % 8)
        i = bit % 16
        self._locks.get(i)
        try:
            old = self._pool.read(addr, 1)[0]
            new = old | mask if value else old & ~mask
            if new != old:
                self._pool.write(addr, bytes((new,)))
        finally:
            self._locks.release(i)
        return bool(old & mask)

    def _nc_check(self, nid: int, pool: int, nc: int) -> bool:
        """True when nc is above the highest seen for the nonce (then remembered)."""
        if pool >= self.pools or self._overflow(nid, pool, self.nc_part_k) or nc >= 256:
            return False
        slot = self._slot(nid, pool, self.nc_part_k)
        i = slot % 16
        self._locks.get(i)
        try:
            if self._pool.read(self.nc_addr + slot, 1)[0] >= nc:
                return False
            self._pool.write(self.nc_addr + slot, bytes((nc,)))
        finally:
            self._locks.release(i)
        return True

    # ------------------------------------------------------------ check
    def check(self, nonce: str | None, nc: str | None, msg) -> int:
        """Kamailio's check_nonce result for the nonce a client sent back."""
        cfg = self.checks_for(msg)
        if nonce is None:
            return INVALID
        if len(nonce) < MIN_NONCE_LEN:
            return TOO_SHORT
        raw = b64_decode(nonce)
        if raw is None or len(raw) < MIN_BIN_NONCE_LEN:
            return INVALID
        expire, since = struct.unpack(">Ii", raw[:8])
        t = int(time.time())
        if since < self.up_since:
            if t < self.up_since:
                self.up_since = t
            if since < t:
                return STALE
        if since > t and since - t > self.max_drift:
            return STALE
        nid_off = 40 if cfg else 24
        nid_part = raw[nid_off:nid_off + 5]
        pf = nid_part[4] if len(nid_part) == 5 else 0
        nid = struct.unpack(">I", nid_part[:4])[0] if len(nid_part) == 5 else 0
        if self.otn_enabled and not pf & NF_VALID_OT_ID:
            return STALE
        if not pf & (NF_VALID_NC_ID | NF_VALID_OT_ID):
            nid_part = b""
        else:
            nid_part = struct.pack(">IB", nid, pf)
        expected = self._binary(raw[:8], nid_part, cfg, msg)
        if not hmac.compare_digest(raw[8:24], expected[8:24]):
            return NO_MATCH
        if self.nc_enabled and pf & NF_VALID_NC_ID and nc:
            if len(nc) != 8 or any(ch not in "0123456789abcdefABCDEF" for ch in nc):
                return BAD_NC
            if not self._nc_check(nid, pf & NF_POOL_NO_MASK, int(nc, 16)):
                return STALE
            return STALE if expire < t else OK
        if self.otn_enabled and pf & NF_VALID_OT_ID:
            pool = pf & NF_POOL_NO_MASK
            if pool >= self.pools or self._overflow(nid, pool, self.otn_part_k):
                return REUSED
            if self._otn_set(nid, pool, True):
                return REUSED
        if cfg:
            if len(raw) != len(expected):
                return NO_MATCH
            if not hmac.compare_digest(raw[24:40], expected[24:40]):
                return EXTRA_FAILED
        return STALE if expire < t else OK
