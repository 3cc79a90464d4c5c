"""The #! preprocessor: defines, ifdef nesting, includes, subst, and positions after it."""

import pytest

from kamapy.cfg import ConfigError, parse_config, parse_text
from kamapy.cfg.preprocessor import Preprocessor, parse_define_arg


def pre(text, defines=None, name="main.cfg"):
    p = Preprocessor(defines)
    p.run_text(text, name)
    return p.result()


def words(text):
    return pre(text).text.split()


def test_nested_ifdef_else():
    text = """#!define A
#!ifdef A
a1
#!ifdef B
b1
#!else
notb
#!ifndef C
notc
#!endif
#!endif
#!else
nota
#!endif
end
"""
    assert words(text) == ["a1", "notb", "notc", "end"]


def test_define_substitutes_tokens_not_strings_or_pvs():
    text = '#!define FLT 5\n#!define DBURL "mysql://x"\nsetflag(FLT); "FLT" $var(FLT) DBURL FLTX\n'
    out = pre(text).text
    assert "setflag(5 );" in out
    assert '"FLT"' in out and "$var(FLT)" in out and '"mysql://x"' in out and "FLTX" in out


def test_define_without_value_vanishes_and_value_may_be_several_tokens():
    out = pre("#!define EMPTY\n#!define TWO 1 + 2\nx = EMPTY TWO;\n").text
    assert out.split() == ["x", "=", "1", "+", "2", ";"]


def test_trydef_redefine_undef():
    p = pre("#!define A 1\n#!trydef A 2\n#!trydef B 3\n#!redefine A 4\n#!undef B\n#!tryundef Z\n")
    assert p.defines["A"] == "4" and "B" not in p.defines


def test_define_twice_is_an_error():
    with pytest.raises(ConfigError) as e:
        pre("#!define A 1\n#!define A 2\n")
    assert "main.cfg:2:1" in str(e.value) and "already defined" in str(e.value)


def test_command_line_defines_and_bang_bang_prefix():
    assert parse_define_arg("WITH_X") == ("WITH_X", None)
    assert parse_define_arg("N=5") == ("N", "5")
    out = pre("!!ifdef WITH_X\nyes\n!!endif\nN\n", {"WITH_X": None, "N": "5"}).text.split()
    assert out == ["yes", "5"]


def test_headers_and_comments_are_dropped():
    assert words("#!KAMAILIO\n#!KAMAPY\n#!SER\n# c\n// c2\n/* a /* nested */ b */ x\n") == ["x"]


def test_directives_in_block_comments_are_ignored_when_active():
    assert words("/*\n#!define X 1\n*/\nX\n") == ["X"]


def test_substdef_applies_to_strings_and_defines_name():
    out = pre('#!substdef "!MYIP!10.1.2.3!g"\nlisten = MYIP "ip is MYIP"\n').text
    assert "10.1.2.3" in out.split("=")[1] and '"ip is 10.1.2.3"' in out


def test_subst_only_changes_strings():
    out = pre('#!subst "/HOST/example.com/"\nHOST "sip:HOST"\n').text
    assert out.split() == ["HOST", '"sip:example.com"']


def test_include_relative_to_including_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner.cfg").write_text("#!define FROM_INNER 7\nroute[INNER] { exit; }\n")
    (tmp_path / "sub" / "mid.cfg").write_text('include_file "inner.cfg"\n')
    (tmp_path / "main.cfg").write_text(
        '#!include_file "sub/mid.cfg"\nimport_file "missing.cfg"\n'
        "request_route { $var(x) = FROM_INNER; route(INNER); }\n")
    cfg = parse_config(str(tmp_path / "main.cfg"))
    names = [(r.kind, r.name) for r in cfg.routes]
    assert ("route", "INNER") in names
    inner = [r for r in cfg.routes if r.name == "INNER"][0]
    assert inner.pos.file.endswith("sub/inner.cfg") and inner.pos.line == 2


def test_missing_include_is_an_error(tmp_path):
    (tmp_path / "main.cfg").write_text('debug=2\n#!include_file "nope.cfg"\n')
    with pytest.raises(ConfigError) as e:
        parse_config(str(tmp_path / "main.cfg"))
    assert "main.cfg:2:1" in str(e.value) and "nope.cfg" in str(e.value)


def test_unterminated_ifdef():
    with pytest.raises(ConfigError) as e:
        pre("debug=1\n#!ifdef X\nfoo\n")
    msg = str(e.value)
    assert "main.cfg:2:1" in msg and "unterminated #!ifdef" in msg


def test_endif_without_ifdef():
    with pytest.raises(ConfigError) as e:
        pre("#!endif\n")
    assert "main.cfg:1:1" in str(e.value)


def test_positions_survive_defines_and_includes():
    # the error is on line 4 of the original, after a define expanded on line 3
    with pytest.raises(ConfigError) as e:
        parse_text("#!define V 1\n#!ifdef NOPE\nx\n#!endif\nrequest_route { $var(a) = V;\n  $var(b) = == ; }\n",
                   name="pos.cfg")
    assert "pos.cfg:6:" in str(e.value)


def test_kamailio_version_defines():
    assert "KAMAILIO_5" in pre("").defines


# ---------------------------------------------------------------- Kamailio 5.6.3's view
def test_version_defines_are_kamailio_5_6_3s():
    # kamailio 5.6.3 -c: `#!ifdef KAMAILIO_5_6_3` and `#!ifdef KAMAILIO_5_6` are both taken
    d = pre("").defines
    assert {"KAMAILIO_5", "KAMAILIO_5_6", "KAMAILIO_5_6_3"} <= set(d)
    assert "KAMAILIO_5_8" not in d and "KAMAILIO_VERSION" not in d and "OS_NAME" not in d


@pytest.mark.parametrize("directive", ["#!defexp X 1+2", "#!defexps X \"a\" + \"b\"", "!!defexp X 3"])
def test_defexp_is_a_comment_as_in_kamailio_5_6(directive):
    # Kamailio 5.6.3 accepts the config and X stays undefined (its #!ifdef X is not taken);
    # #!defexp/#!defexps came with 5.7
    p = pre(f"{directive}\n#!ifdef X\ninside\n#!endif\nafter\n")
    assert "X" not in p.defines
    assert p.text.split() == ["after"]
    assert p.warnings and "main.cfg:1:1" in p.warnings[0] and "5.7" in p.warnings[0]


def test_defexp_line_leaves_the_next_line_alone():
    p = pre("#!defexp X 1 + \\\n2\nafter\n")
    # no line continuation for a comment: the "2" line is config text, as in Kamailio 5.6
    assert p.text.split() == ["2", "after"]


def test_ifexp_is_a_comment_so_its_endif_is_unmatched():
    # kamailio 5.6.3: "pp_endif(): invalid position for preprocessor directive 'endif' -
    # at cfg line 3" ... "different number of preprocessor directives"
    with pytest.raises(ConfigError) as e:
        pre("#!ifexp 1\nx\n#!endif\n")
    p = e.value.first
    assert (p.pos.line, p.pos.col) == (3, 1) and "#!ifexp at main.cfg:1:1" in p.hint


def test_ifexp_inside_a_false_ifdef_does_not_nest():
    # under a false #!ifdef only ifdef/ifndef/else/endif count, so this #!endif closes it
    assert words("#!ifdef NOPE\n#!ifexp 1\n#!endif\nafter\n") == ["after"]
