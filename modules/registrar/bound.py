"""The APIs registrar binds (Kamailio's registrar.c: load_ul_api into `ul`, sl_load_api
into `slb`). mod_init binds both and refuses to start without them; a table fixup, which
runs before mod_init, binds usrloc's on first use."""

from __future__ import annotations

from kamapy.loader import BoundApi

ul = BoundApi("usrloc")
slb = BoundApi("sl")
