"""outbound's modparams as read in mod_init."""

from __future__ import annotations


class ObSettings:
    __slots__ = ("force_flag", "force_no_flag")

    def __init__(self):
        self.force_flag = -1      # force_outbound_flag
        self.force_no_flag = -1   # force_no_outbound_flag


settings = ObSettings()
