"""tm's modparams, with Kamailio's names, units (milliseconds) and defaults
(tm/doc/params.xml), and the values tm works with (seconds)."""

from __future__ import annotations

from kamapy.module import Param, non_negative

PARAMS = [
    Param("fr_timer", int, 30000, validate=non_negative, doc="final response timeout, ms"),
    Param("fr_inv_timer", int, 120000, validate=non_negative,
          doc="final response timeout of an INVITE after a provisional reply, ms"),
    Param("wt_timer", int, 5000, validate=non_negative, doc="time a completed transaction is kept, ms"),
    Param("retr_timer1", int, 500, validate=non_negative, doc="T1, ms"),
    Param("retr_timer2", int, 4000, validate=non_negative, doc="T2, ms"),
    Param("max_inv_lifetime", int, 180000, validate=non_negative),
    Param("max_noninv_lifetime", int, 32000, validate=non_negative),
    Param("noisy_ctimer", int, 1),
    Param("restart_fr_on_each_reply", int, 1),
    Param("auto_inv_100", int, 1),
    Param("auto_inv_100_reason", str, "trying -- your call is important to us"),
    Param("unix_tx_timeout", int, 500),
    Param("aggregate_challenges", int, 1),
    Param("reparse_invite", int, 1),
    Param("ac_extra_hdrs", str, ""),
    Param("blst_503", int, 0),
    Param("blst_503_def_timeout", int, 0),
    Param("blst_503_min_timeout", int, 0),
    Param("blst_503_max_timeout", int, 3600),
    Param("blst_methods_add", int, 1),
    Param("blst_methods_lookup", int, 4294967287),
    Param("cancel_b_method", int, 1),
    Param("reparse_on_dns_failover", int, 1),
    Param("on_sl_reply", str, ""),
    Param("contacts_avp", str, ""),
    Param("contact_flows_avp", str, ""),
    Param("fr_timer_avp", str, ""),
    Param("fr_inv_timer_avp", str, ""),
    Param("unmatched_cancel", int, 0),
    Param("ruri_matching", int, 1),
    Param("via1_matching", int, 1),
    Param("reply_matching", int, 1),
    Param("callid_matching", int, 0),
    Param("callid_cseq_matching", int, 0),
    Param("pass_provisional_replies", int, 0),
    Param("default_code", int, 500),
    Param("default_reason", str, "Server Internal Error"),
    Param("disable_6xx_block", int, 0),
    Param("local_ack_mode", int, 0),
    Param("failure_reply_mode", int, 3),
    Param("failure_exec_mode", int, 0),
    Param("dns_reuse_rcv_socket", int, 0),
    Param("xavp_contact", str, ""),  # Kamailio's default NULL: no per-contact attributes
    Param("event_callback", str, ""),
    Param("event_callback_lres_sent", str, "",
          unsupported="event_route[tm:local-response] is not built, so neither is its KEMI callback"),
    Param("relay_100", int, 0),
    Param("rich_redirect", int, 0),
    Param("exec_time_check", int, 5000),
    Param("reply_relay_mode", int, 1),
    Param("enable_uac_fr", int, 0),
    Param("e2e_cancel_reason", int, 1),
    Param("local_cancel_reason", int, 1),
    Param("failover_reply_codes", str, ""),
    Param("reply_408_code", int, 408),
    Param("reply_408_reason", str, "Request Timeout"),
    Param("use_dns_failover", int, 0),
    Param("tw_append", str, ""),
    Param("remap_503_500", int, 1),
    Param("delayed_reply", int, 1),
]


class TmConfig:
    """The working values; `load(values)` fills them from the modparams."""

    def __init__(self):
        self.load({p.name: p.default for p in PARAMS})

    def load(self, v: dict):
        self.fr = v["fr_timer"] / 1000.0
        self.fr_inv = v["fr_inv_timer"] / 1000.0
        self.wt = v["wt_timer"] / 1000.0
        self.t1 = v["retr_timer1"] / 1000.0
        self.t2 = v["retr_timer2"] / 1000.0
        self.max_inv_lifetime = v["max_inv_lifetime"] / 1000.0
        self.max_noninv_lifetime = v["max_noninv_lifetime"] / 1000.0
        self.noisy_ctimer = bool(v["noisy_ctimer"])
        self.restart_fr = bool(v["restart_fr_on_each_reply"])
        self.auto_inv_100 = bool(v["auto_inv_100"])
        self.auto_inv_100_reason = v["auto_inv_100_reason"]
        self.default_code = v["default_code"]
        self.default_reason = v["default_reason"]
        self.disable_6xx = bool(v["disable_6xx_block"])
        self.unmatched_cancel = v["unmatched_cancel"]
        self.relay_100 = bool(v["relay_100"])
        self.pass_provisional = bool(v["pass_provisional_replies"])
        self.reply_408_code = v["reply_408_code"] or 408
        self.reply_408_reason = v["reply_408_reason"] or "Request Timeout"
        self.e2e_cancel_reason = bool(v["e2e_cancel_reason"])
        self.local_cancel_reason = bool(v["local_cancel_reason"])
        self.ac_extra_hdrs = v["ac_extra_hdrs"]
        self.remap_503_500 = bool(v["remap_503_500"])
        self.delayed_reply = bool(v["delayed_reply"])
        self.aggregate_challenges = bool(v["aggregate_challenges"])
        self.failure_exec_mode = v["failure_exec_mode"]
        self.contacts_avp = v["contacts_avp"]
        self.contact_flows_avp = v["contact_flows_avp"]
        self.xavp_contact = v["xavp_contact"]


cfg = TmConfig()
