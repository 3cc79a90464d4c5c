"""What Kamailio keeps in its core sr_cfgenv (core/srapi.c) for modules that meet
without knowing each other: uac_auth() asks the dialog module (track_cseq_updates) to
account for the CSeq its authenticated request takes, through `cseq_update`, and the
two header names that carry a new CSeq from the script to the sending side (tm copies
them into the CANCEL/ACK it builds from such a request)."""

from __future__ import annotations

UAC_CSEQ_AUTH = "P-K-CSeq-Auth"        # a new increment (uac_auth)
UAC_CSEQ_REFRESH = "P-K-CSeq-Refresh"  # the increments so far, on a later request

# fn(msg) -> int, set by dialog's mod_init when track_cseq_updates is on; < 0 fails
# uac_auth() (Kamailio: cenv->cb_cseq_update)
cseq_update: list = [None]
