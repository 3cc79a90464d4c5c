"""pv module functions and the shvset/varset modparams."""

from __future__ import annotations

import pytest
from kamapy_modules import pv as pvmod
from module_test_messages import request

from kamapy.pv import parse_pv


def test_isset_unset_types():
    msg = request()
    x = parse_pv("$vn(x)")
    assert pvmod.pv_isset(msg, x) == -1
    x.set(msg, 5)
    assert pvmod.pv_isset(msg, x) == 1
    assert pvmod.is_int(msg, x) == 1
    assert pvmod.typeof(msg, x, "int") == 1
    assert pvmod.not_empty(msg, x) == -1
    x.set(msg, "text")
    assert pvmod.typeof(msg, x, "str") == 1 and pvmod.not_empty(msg, x) == 1
    assert pvmod.pv_unset(msg, x) == 1
    assert pvmod.typeof(msg, x, "null") == 1
    assert pvmod.pv_isset(msg, parse_pv("$ru")) == 1
    with pytest.raises(ValueError):
        pvmod._type_name("float")


def test_xavp_params_explode():
    msg = request()
    assert pvmod.xavp_params_explode(msg, "a=1;b=two", "px") == 1
    assert parse_pv("$xavp(px=>a)").get(msg) == "1"
    assert parse_pv("$xavp(px=>b)").get(msg) == "two"


def test_modparams(monkeypatch):
    monkeypatch.setitem(pvmod.exports.values, "shvset", ["maint=i:1", "name=s:kamapy"])
    monkeypatch.setitem(pvmod.exports.values, "varset", ["start=i:7"])
    assert pvmod.mod_init() == 0
    msg = request()
    assert parse_pv("$shv(maint)").get(msg) == 1
    assert parse_pv("$shv(name)").get(msg) == "kamapy"
    assert parse_pv("$var(start)").get(msg) == 7
    with pytest.raises(ValueError):
        pvmod._validate_assignment("bad")
