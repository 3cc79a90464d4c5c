"""The API rtpengine binds (Kamailio's rtpengine.c: load_tm_api into tmb, optional:
without tm the offer/answer auto-detection has no transaction to look at). Bound on
first use, as rtpproxy runs the same code under its own mod_init."""

from __future__ import annotations

from kamapy.loader import BoundApi

tmb = BoundApi("tm")


def tm():
    """tm's API, or None when tm is not loaded."""
    return tmb.api or tmb.bind()
