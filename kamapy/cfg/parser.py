"""Preprocess + parse a config into a ConfigAst, with errors a person can act on."""

from __future__ import annotations

import os
import re

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from .ast import ConfigAst
from .errors import ConfigError, Problem
from .preprocessor import Preprocessed, Preprocessor

_GRAMMAR = os.path.join(os.path.dirname(__file__), "kamailio.lark")
_parser: Lark | None = None

ROUTE_WORDS = ("request_route", "route", "failure_route", "onreply_route", "reply_route",
               "branch_route", "onsend_route", "event_route")

# terminal name -> how a person would call it
_FRIENDLY = {
    "SEMICOLON": "';'", "LBRACE": "'{'", "RBRACE": "'}'", "LPAR": "'('", "RPAR": "')'",
    "LSQB": "'['", "RSQB": "']'", "COMMA": "','", "COLON": "':'", "EQUAL": "'='", "DOT": "'.'",
    "STRING": "a string", "NUMBER": "a number", "PV": "a pseudo-variable", "ID": "a name",
    "EQOP": "'=='", "CMPOP": "a comparison", "ADDOP": "'+'", "MULOP": "'*'", "LOR": "'||'",
    "LAND": "'&&'", "IPADDR": "an IP address", "HOSTNAME": "a host name", "BAREHOST": "a host name",
    "EVNAME": "an event name (module:event)", "PROTO": "a protocol", "$END": "the end of the file",
    "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'", "BOOL": "yes/no", "MSG_ATTR": "a message keyword",
}


def grammar_parser() -> Lark:
    global _parser
    if _parser is None:
        with open(_GRAMMAR) as f:
            grammar = f.read()
        _parser = Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True,
                       maybe_placeholders=True, cache=True)
    return _parser


def preprocess(path: str, defines: dict | None = None) -> Preprocessed:
    return Preprocessor(defines).run(path)


def parse_config(path: str, defines: dict | None = None) -> ConfigAst:
    """Preprocess and parse a config file; raises ConfigError (never a traceback)."""
    pre = preprocess(path, defines)
    return parse_preprocessed(pre)


def parse_text(text: str, name: str = "<config>", defines: dict | None = None) -> ConfigAst:
    """Parse config text (tests, embedded configs); includes resolve relative to cwd."""
    pp = Preprocessor(defines)
    pp.run_text(text, name)
    return parse_preprocessed(pp.result())


def parse_preprocessed(pre: Preprocessed) -> ConfigAst:
    from .transform import ToAst

    try:
        tree = grammar_parser().parse(pre.text)
    except UnexpectedInput as e:
        raise ConfigError(_syntax_problem(e, pre)) from None
    builder = ToAst(pre.source_map, pre.sources)
    try:
        cfg = builder.transform(tree)
    except VisitError as e:  # a bug in a transformer method: still report a position
        raise ConfigError(Problem(None, f"internal error while reading the config: {e.orig_exc!r}")) from None
    if builder.problems:
        raise ConfigError(builder.problems)
    cfg.sources = pre.sources
    cfg.defines = dict(pre.defines)
    cfg.files = list(pre.files)
    return cfg


# ---------------------------------------------------------------- syntax errors
def _syntax_problem(e: UnexpectedInput, pre: Preprocessed) -> Problem:
    text = pre.text
    smap = pre.source_map
    if isinstance(e, UnexpectedCharacters):
        off = e.pos_in_stream
        got = text[off:off + 1]
        expected = set(e.allowed or ())
        token_text = got
    elif isinstance(e, UnexpectedToken) and e.token.type != "$END":
        off = e.token.start_pos
        got = e.token.value
        token_text = got
        expected = set(e.expected or ())
    else:  # end of input
        off = len(text.rstrip())
        got = ""
        token_text = ""
        expected = set(getattr(e, "expected", ()) or ())
    pos = smap.position(off)
    prev = _previous_token(e)
    message, hint, at_prev = _explain(got, expected, prev, text, off)
    if at_prev:
        end = len(text[:off].rstrip())  # just after the previous token
        if end > 0:
            pos = smap.position(end - 1)
            pos = type(pos)(pos.file, pos.line, pos.col + 1)
    if not message:
        what = f"'{token_text}'" if token_text else "end of file"
        message = f"syntax error: unexpected {what}"
        if expected:
            names = sorted({_FRIENDLY.get(x, _literal_name(x)) for x in expected})
            if len(names) <= 8:
                message += ", expected " + ", ".join(names)
    if not got:
        brace = _unclosed_brace(text)
        if brace is not None:
            pos = smap.position(brace)
            message = "unbalanced braces: this '{' is never closed"
            hint = "add the missing '}' (or remove an extra '{')"
    return pre.sources.problem(pos, message, hint)


def _previous_token(e) -> Token | None:
    hist = getattr(e, "token_history", None)
    if hist:
        return hist[-1]
    return None


def _literal_name(term: str) -> str:
    if term.startswith("__ANON") or term.isupper():
        return term.lower().replace("_kw", "")
    return term


def _explain(got: str, expected: set, prev: Token | None, text: str, off: int):
    """(message, hint, point_after_previous_token) for the common mistakes."""
    if got == "=" and ("EQOP" in expected or "CMPOP" in expected):
        return ("'=' in an expression", "use '==' to compare ('=' assigns a value)", False)
    if got == "=" and off > 0 and text[off - 1] == "=" and "EQOP" not in expected:
        return ("'==' where a value is assigned", "use '=' to assign ('==' compares)", False)
    if got == "==" and "EQUAL" in expected:
        return ("'==' where a value is assigned", "use '=' to assign ('==' compares)", False)
    if "SEMICOLON" in expected and got not in (";", ""):
        return ("missing ';'", "end the previous statement with ';'", True)
    if got == "}" and "SEMICOLON" in expected:
        return ("missing ';' before '}'", "end the last statement of the block with ';'", True)
    if prev is not None and prev.type in ("ID", "BAREHOST") and got in ("[", "{"):
        word = prev.value
        if word.endswith("route") or word.endswith("_route") or "route" in word:
            return (f"unknown route type '{word}'", "route blocks are: " + ", ".join(ROUTE_WORDS), False)
        return (f"'{word}' is not a core parameter, route block or statement",
                "route blocks are: " + ", ".join(ROUTE_WORDS), False)
    if prev is not None and prev.type == "ID" and got in (";", ")", ",") and "LPAR" in expected:
        return (f"'{prev.value}' needs parentheses to be called", f"write {prev.value}()", False)
    if got == ")" and "RPAR" not in expected:
        return ("unbalanced parentheses: unexpected ')'", "remove the extra ')' or add its '('", False)
    if got == "}" and "RBRACE" not in expected:
        return ("unexpected '}'", "check the braces of the block above: a '}' too many or a statement left open", False)
    return ("", "", False)


_SKIP_STR = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|\$\((?:[^()]|\([^()]*\))*\)|\$[A-Za-z_]\w*\([^()]*\)', re.S)


def _unclosed_brace(text: str) -> int | None:
    """Offset of the first '{' that is never closed, ignoring strings and PVs."""
    stack = []
    i = 0
    n = len(text)
    while i < n:
        m = _SKIP_STR.match(text, i)
        if m:
            i = m.end()
            continue
        c = text[i]
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            stack.pop()
        i += 1
    return stack[0] if stack else None


__all__ = ["parse_config", "parse_text", "parse_preprocessed", "preprocess", "grammar_parser",
           "UnexpectedEOF", "UnexpectedToken"]
