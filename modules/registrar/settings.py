"""The registrar modparams as attributes (filled by mod_init; read on hot paths)."""

from __future__ import annotations

PATH_MODE_OFF, PATH_MODE_LAZY, PATH_MODE_STRICT = 0, 1, 2
OUTBOUND_NONE, OUTBOUND_SUPPORTED, OUTBOUND_REQUIRE = 0, 1, 2
REGID_OUTBOUND, REGID_ALWAYS = 0, 1

# save() flags
SAVE_MEM = 0x01          # memory only, no DB
SAVE_NOREPLY = 0x02      # do not reply (reg_send_reply() later)
SAVE_REPLACE = 0x04      # one contact per AOR: drop the others
SAVE_NOVARIATION = 0x08  # no expires_range / default_expires_range
SAVE_PREPARE_REPLY = 0x10


class Settings:
    default_expires = 3600
    default_expires_range = 0
    expires_range = 0
    min_expires = 60
    min_expires_mode = 0
    max_expires = 0
    default_q = -1
    realm_prefix = ""
    append_branches = 1
    case_sensitive = 0
    received_avp = ""
    received_param = "received"
    max_contacts = 0
    retry_after = 0
    sock_flag = -1
    sock_hdr_name = ""
    sock_mode = 0
    method_filtering = 0
    use_path = 0
    path_mode = PATH_MODE_STRICT
    path_use_received = 0
    path_check_local = 0
    xavp_cfg = ""
    xavp_rcd = ""
    xavp_rcd_mask = 0
    gruu_enabled = 1
    outbound_mode = OUTBOUND_NONE
    regid_mode = REGID_OUTBOUND
    flow_timer = 0
    contact_max_size = 512
    use_expired_contacts = 0
    lookup_filter_mode = 0
    # from usrloc (Kamailio's registrar reads them from there)
    use_domain = 0
    nat_flag = 0
    # the parsed received_avp name (None when unset)
    received_avp_name = None
    # save.py's packed modparam numbers for the quick refresh (kp_regrefresh.h's
    # KP_RN_Q on), None until packed again after any setting changes
    packed_nums = None

    def __setattr__(self, name, value):
        d = self.__dict__
        d[name] = value
        if name != "packed_nums":
            d["packed_nums"] = None


cfg = Settings()
