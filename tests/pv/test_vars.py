from pv_test_messages import make_msg

from kamapy.pv import parse_pv, shv


def get(text, m):
    return parse_pv(text).get(m)


def put(text, m, value):
    return parse_pv(text).set(m, value)


def test_var_is_per_process_and_survives_messages(msg):
    assert get("$var(x)", msg) == 0
    put("$var(x)", msg, 5)
    assert get("$var(x)", msg) == 5
    other = make_msg()
    assert get("$var(x)", other) == 5  # not reset between messages
    put("$var(x)", msg, "text")
    assert get("$var(x)", msg) == "text"
    put("$var(x)", msg, None)
    assert get("$var(x)", msg) == 0
    assert get("$vz(x)", msg) == 0


def test_vn_holds_null(msg):
    assert get("$vn(n)", msg) is None
    put("$vn(n)", msg, 3)
    assert get("$vn(n)", msg) == 3
    put("$vn(n)", msg, None)
    assert get("$vn(n)", msg) is None


def test_avp_stack(msg):
    assert get("$avp(a)", msg) is None
    put("$avp(a)", msg, "one")
    put("$avp(s:a)", msg, 2)
    put("$avp(a)", msg, "three")
    assert get("$avp(a)", msg) == "three"
    assert get("$(avp(a)[1])", msg) == 2
    assert get("$avp(a)[2]", msg) == "one"
    assert get("$(avp(a)[-1])", msg) == "one"
    assert get("$(avp(a)[3])", msg) is None
    assert get("$(avp(a)[*])", msg) == "three, 2, one"  # PV_FIELD_DELIM
    put("$avp(a)", msg, None)  # removes the newest only
    assert get("$(avp(a)[*])", msg) == "2, one"
    put("$(avp(a)[*])", msg, "only")
    assert get("$(avp(a)[*])", msg) == "only"
    put("$(avp(a)[*])", msg, None)
    assert get("$avp(a)", msg) is None
    assert get("$avp(a)", make_msg()) is None  # per message


def test_avp_int_name_and_dynamic_name(msg):
    put("$avp(i:5)", msg, "five")
    assert msg.avps[5] == ["five"]
    put("$var(n)", msg, "dyn")
    put("$avp($var(n))", msg, "x")
    assert get("$avp(dyn)", msg) == "x"


def test_xavp_records(msg):
    put("$xavp(r=>a)", msg, "1")
    put("$xavp(r[0]=>b)", msg, "2")
    put("$xavp(r=>a)", msg, "3")  # a new record in front
    assert get("$xavp(r=>a)", msg) == "3"
    assert get("$xavp(r[1]=>a)", msg) == "1"
    assert get("$xavp(r[1]=>b)", msg) == "2"
    assert get("$xavp(r[0]=>b)", msg) is None
    assert get("$xavp(r[-1]=>b)", msg) == "2"
    put("$xavp(r[1]=>b)", msg, 4)
    assert get("$xavp(r[1]=>b[*])", msg) == "4,2"
    put("$xavp(r[1]=>b[0])", msg, "5")
    assert get("$xavp(r[1]=>b)", msg) == "5"
    assert get("$xavp(r)", msg).startswith("<<xavp:")
    put("$xavp(r[1]=>b)", msg, None)
    assert get("$xavp(r[1]=>b)", msg) == "2"
    put("$xavp(r)", msg, None)
    assert get("$xavp(r=>a)", msg) == "1"
    put("$xavp(r[*])", msg, None)
    assert get("$xavp(r=>a)", msg) is None


def test_xavp_plain_values(msg):
    put("$xavp(p)", msg, 1)
    put("$xavp(p)", msg, 2)
    assert get("$xavp(p)", msg) == 2
    assert get("$xavp(p[1])", msg) == 1
    put("$xavp(p[1])", msg, 9)
    assert get("$xavp(p[1])", msg) == 9


def test_shv_local_fallback(msg):
    shv.use_table(shv._LocalTable())
    assert get("$shv(counter)", msg) == 0
    put("$shv(counter)", msg, 41)
    assert get("$shv(counter)", make_msg()) == 41
    put("$shv(name)", msg, "héllo")
    assert get("$shv(name)", msg) == "héllo"
    put("$shv(name)", msg, None)
    assert get("$shv(name)", msg) == ""
