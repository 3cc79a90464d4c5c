import pytest

from kamapy.pv import PvError, compile_format, parse_pv


def test_plain_text_stays_a_string():
    assert compile_format("no pvs here") == "no pvs here"
    assert compile_format("") == ""
    assert compile_format("cost: $$5") == "cost: $5"


def test_format_with_pvs(msg):
    f = compile_format("Hello $fU from $si:$sp")
    assert callable(f)
    assert f(msg) == "Hello alice from 192.0.2.4:5062"


def test_single_pv_and_edges(msg):
    assert compile_format("$rm")(msg) == "INVITE"
    assert compile_format("$rm!")(msg) == "INVITE!"
    assert compile_format(">$rm")(msg) == ">INVITE"
    assert compile_format("$rm $rm $rm")(msg) == "INVITE INVITE INVITE"


def test_null_prints_null(msg):
    assert compile_format("[$null] [$avp(none)] [$tt]")(msg) == "[<null>] [<null>] [<null>]"


def test_failed_transformation_prints_nothing(msg):
    assert compile_format("[$(avp(none){s.len})]")(msg) == "[]"
    assert compile_format("[$(rm{s.int})]")(msg) == "[]"


def test_ints_and_transformations(msg):
    assert compile_format("$rp/$(rU{s.len})")(msg) == "5080/5"


def test_index_is_text_in_a_format(msg):
    parse_pv("$var(v)").set(msg, "x")
    assert compile_format("$var(v)[1]")(msg) == "x[1]"


@pytest.mark.parametrize("text,col", [
    ("a $nosuch b", 3),
    ("tail $", 6),
    ("x $hdr(Via b", 6),
])
def test_format_errors(text, col):
    with pytest.raises(PvError) as info:
        compile_format(text)
    assert info.value.col == col
