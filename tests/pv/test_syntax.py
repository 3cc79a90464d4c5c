import pytest

from kamapy.pv import PvError, parse_pv
from kamapy.pv.syntax import pv_end, split_spec


@pytest.mark.parametrize("text,pos,end", [
    ("$ru", 0, 3),
    ("x = $ru;", 4, 7),
    ("$rU==1", 0, 3),
    ("$$abc", 0, 2),
    ("$var(x) = 1", 0, 7),
    ("$hdr(Via)[1] ", 0, 12),
    ("$hdr(Via)[-1]", 0, 13),
    ("$(hdr(X)[0]{s.tolower}{s.substr,0,3}) + 1", 0, 37),
    ("$(var(x){s.select,1,;})", 0, 23),
    ("$hdr($var(h)) ", 0, 13),
    ("$(avp(x)[$var(i)])", 0, 18),
    ("$(ru{uri.user})x", 0, 15),
    ("$T_reply_code)", 0, 13),
    ("$?", 0, 2),
    ("$fU.", 0, 4),  # '.' is a name character, as in Kamailio
])
def test_pv_end(text, pos, end):
    assert pv_end(text, pos) == end


def test_pv_end_format_mode_leaves_index_text():
    assert pv_end("$var(x)[1]", 0, allow_index=False) == 7


@pytest.mark.parametrize("text", ["$", "$ x", "$(ru", "$hdr(Via", "$hdr(Via)[1"])
def test_pv_end_errors(text):
    with pytest.raises(PvError):
        pv_end(text, 0)


def test_split_spec_parts():
    parts = split_spec("$(hdr(X)[0]{s.tolower} {s.substr,0,3})")
    assert parts.name == "hdr"
    assert parts.inner == "X"
    assert parts.index == "0"
    assert [t for t, _ in parts.transformations] == ["s.tolower", "s.substr,0,3"]


@pytest.mark.parametrize("text,col", [
    ("$nosuchpv", 1),
    ("$(nosuch(x))", 2),
    ("$ru(x)", 3),
    ("$hdr", 4),
    ("$(ru[1])", 4),
    ("$(hdr(X)[a])", 9),
    ("$(ru{nope.x})", 5),
    ("$(ru{s.nope})", 7),
    ("$(ru{s.substr,a,1})", 14),
    ("$(ru{s.substr,1})", 15),
    ("$(ru{s.len,1})", 10),
])
def test_parse_errors_have_columns(text, col):
    with pytest.raises(PvError) as info:
        parse_pv(text)
    assert info.value.col == col, info.value.message


def test_parse_pv_attributes():
    pv = parse_pv("$ru")
    assert pv.name == "ru" and pv.writable and pv.is_static is False
    assert not parse_pv("$ci").writable
    assert not parse_pv("$(ru{uri.user})").writable
    with pytest.raises(PvError):
        parse_pv("$ci").set(None, "x")
