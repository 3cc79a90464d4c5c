"""The rr modparams as read once in mod_init (a function reads plain attributes per
message, not the loader's dict)."""

from __future__ import annotations


class RrSettings:
    __slots__ = ("enable_full_lr", "append_fromtag", "enable_double_rr", "add_username",
                 "enable_socket_mismatch_warning", "custom_user_avp", "force_send_socket",
                 "ignore_sips", "sockname_mode", "loose_route_mode", "custom_user_pv")

    def __init__(self):
        self.enable_full_lr = 0
        self.append_fromtag = 1
        self.enable_double_rr = 1
        self.add_username = 0
        self.enable_socket_mismatch_warning = 1
        self.custom_user_avp = ""
        self.force_send_socket = 0
        self.ignore_sips = 0
        self.sockname_mode = 0
        self.loose_route_mode = 0
        self.custom_user_pv = None  # parsed custom_user_avp

    def load(self, values: dict):
        for name in self.__slots__:
            if name in values:
                setattr(self, name, values[name])
        self.custom_user_pv = None
        if self.custom_user_avp:
            from kamapy.pv import parse_pv
            self.custom_user_pv = parse_pv(self.custom_user_avp)

    @property
    def lr(self) -> str:
        return ";lr=on" if self.enable_full_lr else ";lr"


settings = RrSettings()
