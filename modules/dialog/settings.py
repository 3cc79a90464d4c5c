"""dialog's modparams as the module reads them (filled from exports.values in mod_init)."""

from __future__ import annotations


class _Cfg:
    enable_stats = 1
    hash_size = 4096
    rr_param = "did"
    dlg_flag = -1
    default_timeout = 43200
    match_mode = 0
    detect_spirals = 1
    timeout_noreset = 0
    h_id_start = 0
    h_id_step = 1
    timeout_avp = None

    def load(self, values: dict):
        self.enable_stats = values["enable_stats"]
        self.hash_size = values["hash_size"]
        self.rr_param = values["rr_param"]
        self.dlg_flag = values["dlg_flag"]
        self.default_timeout = values["default_timeout"]
        self.match_mode = values["dlg_match_mode"]
        self.detect_spirals = values["detect_spirals"]
        self.timeout_noreset = values["timeout_noreset"]
        self.h_id_start = values["h_id_start"]
        self.h_id_step = values["h_id_step"]
        self.timeout_avp = values["timeout_avp"] or None


cfg = _Cfg()


def pow2_floor(n: int) -> int:
    """hash_size is rounded down to a power of two, as Kamailio does."""
    p = 1
    while p * 2 <= n:
        p *= 2
    return p
