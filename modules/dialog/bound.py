"""The API dialog binds (Kamailio's dialog.c: load_tm_api into d_tmb). mod_init binds
it and refuses to start without tm; a hot path reads tmb.api, bound by then."""

from __future__ import annotations

from kamapy.loader import BoundApi

tmb = BoundApi("tm")
