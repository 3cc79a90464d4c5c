"""The usrloc modparams as plain attributes, read on hot paths without a dict lookup.
mod_init copies the configured values here (in the master, so children inherit them)."""

from __future__ import annotations

NO_DB, WRITE_THROUGH, WRITE_BACK, DB_ONLY, DB_READONLY = 0, 1, 2, 3, 4

# matching_mode values (Kamailio's CONTACT_ONLY ...)
CONTACT_ONLY, CONTACT_CALLID, CONTACT_PATH, CONTACT_CALLID_ONLY = 0, 1, 2, 3


class Settings:
    db_url = ""
    db_mode = NO_DB
    db_load = 1
    use_domain = 0
    matching_mode = CONTACT_ONLY
    cseq_delay = 20
    desc_time_order = 0
    timer_interval = 60
    hash_size = 10
    nat_bflag = -1
    db_timer_clean = 0
    xavp_contact = ""
    server_id = 0
    server_id_filter = 0
    rm_expired_delay = 0
    version_table = 1
    fetch_rows = 2000
    case_sensitive = 0

    @property
    def nat_flag(self) -> int:
        """The nat_bflag as a bit mask (0 when not set), what registrar ORs into cflags."""
        return (1 << self.nat_bflag) if self.nat_bflag >= 0 else 0


cfg = Settings()
