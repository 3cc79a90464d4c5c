import pytest

from kamapy.pv import PvError, parse_pv


def tr(value, chain, m):
    parse_pv("$var(t)").set(m, value)
    return parse_pv(f"$(var(t){chain})").get(m)


@pytest.mark.parametrize("value,chain,result", [
    ("hello", "{s.len}", 5),
    (1234, "{s.len}", 4),
    ("42", "{s.int}", 42),
    ("abc", "{s.int}", None),
    ("abc", "{s.md5}", "900150983cd24fb0d6963f7d28e17f72"),
    ("abc", "{s.sha256}", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("abcdef", "{s.substr,1,3}", "bcd"),
    ("abcdef", "{s.substr,2,0}", "cdef"),
    ("abcdef", "{s.substr,-2,0}", "ef"),
    ("abcdef", "{s.substr,-4,2}", "cd"),
    ("abcdef", "{s.substr,1,10}", "bcdef"),
    ("abcdef", "{s.substr,6,1}", None),
    ("a;b;c", "{s.select,1,;}", "b"),
    ("a;b;c", "{s.select,-1,;}", "c"),
    ("a;b;c", "{s.select,5,;}", ""),
    ("a,b,c", "{s.select,2,,}", "c"),
    ("a b\tc", "{s.select,2,\\s}", "c"),
    ("AbC", "{s.tolower}", "abc"),
    ("AbC", "{s.toupper}", "ABC"),
    ("12345", "{s.strip,3}", "45"),
    ("12345", "{s.striptail,2}", "123"),
    ("12345", "{s.strip,9}", ""),
    ("ab@cd", "{s.stripto,@}", "@cd"),
    ("123", "{s.prefixes}", "1,12,123"),
    ("1234", "{s.prefixes,2}", "1,12"),
    ("123", "{s.prefixes.quoted}", "'1','12','123'"),
    ("a-b-c", "{s.replace,-,+}", "a+b+c"),
    ("  x y  ", "{s.trim}", "x y"),
    ("  x  ", "{s.rtrim}", "  x"),
    ("  x  ", "{s.ltrim}", "x  "),
    ("+49 (30) 123", "{s.numeric}", "4930123"),
    ('"quoted"', "{s.unquote}", "quoted"),
    ("<sip:a@b>", "{s.unbracket}", "sip:a@b"),
    ("user@host@x", "{s.before,@}", "user"),
    ("user@host@x", "{s.after,@}", "host@x"),
    ("user@host@x", "{s.rbefore,@}", "user@host"),
    ("user@host@x", "{s.rafter,@}", "x"),
    ("nohit", "{s.before,@}", "nohit"),
    ("nohit", "{s.after,@}", ""),
    ("abc", "{s.encode.hexa}", "616263"),
    ("616263", "{s.decode.hexa}", "abc"),
    ("zz", "{s.decode.hexa}", None),
    ("hello", "{s.encode.base64}", "aGVsbG8="),
    ("aGVsbG8=", "{s.decode.base64}", "hello"),
    ("it's \"x\"\\", "{s.escape.common}", "it\\'s \\\"x\\\"\\\\"),
    ("it\\'s", "{s.unescape.common}", "it's"),
    ("a b@c", "{s.escape.user}", "a%20b%40c"),
    ("a%20b", "{s.unescape.user}", "a b"),
    ("a b;c", "{s.escape.param}", "a%20b%3bc"),
    ("Hello", "{s.tolower}{s.substr,0,3}", "hel"),
    ("a.b.c", "{s.count,.}", 2),
])
def test_string(msg, value, chain, result):
    assert tr(value, chain, msg) == result


def test_dynamic_params(msg):
    parse_pv("$var(i)").set(msg, 2)
    parse_pv("$var(sep)").set(msg, "-")
    assert tr("a-b-c", "{s.select,$var(i),$var(sep)}", msg) == "c"
    assert tr("abcdef", "{s.substr,$var(i),$var(i)}", msg) == "cd"


URI = "sip:alice:pw@example.com:5070;transport=tcp;lr;user=phone;maddr=1.2.3.4;ttl=5?h=v"


@pytest.mark.parametrize("chain,result", [
    ("{uri.user}", "alice"),
    ("{uri.host}", "example.com"),
    ("{uri.passwd}", "pw"),
    ("{uri.port}", 5070),
    ("{uri.params}", "transport=tcp;lr;user=phone;maddr=1.2.3.4;ttl=5"),
    ("{uri.param,maddr}", "1.2.3.4"),
    ("{uri.param,nope}", ""),
    ("{uri.headers}", "h=v"),
    ("{uri.transport}", "tcp"),
    ("{uri.ttl}", "5"),
    ("{uri.uparam}", "phone"),
    ("{uri.maddr}", "1.2.3.4"),
    ("{uri.lr}", ""),
    ("{uri.scheme}", "sip"),
    ("{uri.tosocket}", "tcp:example.com:5070"),
    ("{uri.duri}", "sip:example.com:5070;transport=tcp"),
    ("{uri.saor}", "sip:alice@example.com"),
    ("{uri.suri}", "sip:alice@example.com:5070;transport=tcp"),
])
def test_uri(msg, chain, result):
    assert tr(URI, chain, msg) == result


def test_uri_bad_input(msg):
    assert tr("not a uri", "{uri.user}", msg) is None
    assert tr("sip:h", "{uri.port}", msg) == ""
    assert parse_pv("$(avp(none){uri.user})").get(msg) is None


@pytest.mark.parametrize("value,chain,result", [
    ("a=1;b=2;c", "{param.value,b}", "2"),
    ("a=1;b=2;c", "{param.value,x}", ""),
    ("a=1&b=2", "{param.value,b,&}", "2"),
    ("a=1;b=2;c", "{param.valueat,1}", "2"),
    ("a=1;b=2;c", "{param.name,2}", "c"),
    ("a=1;b=2;c", "{param.count}", 3),
    ("a=1;b=2;c", "{param.in,c}", 1),
    ("a=1;b=2;c", "{param.in,d}", 0),
    ('"Bob" <sip:bob@h>;tag=1', "{nameaddr.name}", '"Bob" '),  # the space before < stays (Kamailio)
    ('"Bob" <sip:bob@h>;tag=1', "{nameaddr.uri}", "sip:bob@h"),
    ('"Bob" <sip:bob@h>;tag=1', "{nameaddr.len}", 17),
    ("sip:bob@h;tag=1", "{nameaddr.uri}", "sip:bob@h;tag=1"),
    ('"Bob" <sip:bob@h>;tag=1;x=2', "{tobody.tag}", "1"),
    ('"Bob" <sip:bob@h>;tag=1;x=2', "{tobody.user}", "bob"),
    ('"Bob" <sip:bob@h>;tag=1;x=2', "{tobody.host}", "h"),
    ('"Bob" <sip:bob@h>;tag=1;x=2', "{tobody.display}", '"Bob"'),
    ('"Bob" <sip:bob@h>;tag=1;x=2', "{tobody.params}", "tag=1;x=2"),
    ("<bad>", "{tobody.user}", None),
    ("l1\r\nl2\r\nl3\r\n", "{line.count}", 3),
    ("l1\r\nl2\r\nl3\r\n", "{line.at,1}", "l2"),
    ("l1\r\nfoo bar\r\n", "{line.sw,foo}", "foo bar"),
])
def test_param_nameaddr_tobody_line(msg, value, chain, result):
    assert tr(value, chain, msg) == result


def test_real_pv_chains(msg):
    assert parse_pv("$(ru{uri.user})").get(msg) == "12345"
    assert parse_pv("$(hdr(From){tobody.tag})").get(msg) == "1928301774"
    assert parse_pv("$(hdr(X-Custom)[1]{s.tolower}{s.substr,0,3})").get(msg) == "sec"
    assert parse_pv("$(ct{nameaddr.uri}{uri.host})").get(msg) == "192.0.2.4"


def test_null_input_fails(msg):
    assert parse_pv("$(hdr(X-None){s.len})").get(msg) is None


def test_unknown_transformations_are_config_errors():
    for text in ("$(ru{s.nosuch})", "$(ru{x.len})", "$(ru{s.substr,1,2,3})", "$(ru{uri})"):
        with pytest.raises(PvError):
            parse_pv(text)
