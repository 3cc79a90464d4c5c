"""KSR.<module> groups built from Kamailio 5.6's KEMI tables: every KEMI name of a
module kamapy has in full maps to one of its config functions (aliases for the KEMI
forms whose C entry point has another name, e.g. ds_select_dst_limit)."""

import importlib

import pytest

from kamapy.kemi.kemi_exports import KEMI_EXPORTS
from kamapy.kemi.ksr import module_group


@pytest.mark.parametrize("name", ["dispatcher", "path"])
def test_every_kemi_name_is_mapped(name):
    mod = importlib.import_module(f"kamapy_modules.{name}")
    group = module_group(name, mod.exports)
    mapped = {k for k in group.__dict__ if not k.startswith("_")}
    assert mapped == set(KEMI_EXPORTS[name]), group._missing


def test_tm_serial_forking_names_are_mapped():
    mod = importlib.import_module("kamapy_modules.tm")
    group = module_group("tm", mod.exports)
    for kname in ("t_load_contacts", "ki_t_load_contacts_mode", "t_next_contacts", "t_next_contact_flow"):
        assert kname in group.__dict__, group._missing.get(kname)
