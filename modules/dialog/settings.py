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
    send_bye = 0
    dlg_extra_hdrs = ""
    lreq_callee_headers = ""
    ka_timer = 0
    ka_interval = 0
    ka_failed_limit = 1
    early_timeout = 300
    noack_timeout = 60
    end_timeout = 300
    track_cseq_updates = 0
    keep_proxy_rr = 0
    dlg_filter_mode = 0
    bridge_controller = "sip:controller@kamailio.org"
    bridge_contact = "sip:controller@kamailio.org:5060"

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
        for name in ("send_bye", "dlg_extra_hdrs", "lreq_callee_headers", "ka_timer",
                     "ka_interval", "ka_failed_limit", "early_timeout", "noack_timeout",
                     "end_timeout", "track_cseq_updates", "bridge_controller", "bridge_contact",
                     "keep_proxy_rr", "dlg_filter_mode"):
            if name in values:
                setattr(self, name, values[name] if values[name] is not None else getattr(_Cfg, name))


cfg = _Cfg()


def pow2_floor(n: int) -> int:
    """hash_size is rounded down to a power of two, as Kamailio does."""
    p = 1
    while p * 2 <= n:
        p *= 2
    return p
