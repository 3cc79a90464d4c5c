"""Preprocess + parse a config into a ConfigAst, with errors a person can act on."""

from __future__ import annotations

import dataclasses
import logging
import os
import re

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import ast as ast_mod
from .ast import ConfigAst
from .errors import ConfigError, Problem
from .preprocessor import Preprocessed, Preprocessor

log = logging.getLogger("kamapy.cfg")
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
    "LAND": "'&&'", "IPADDR": "an IP address", "HOSTNAME": "a host name", "ARGHOST": "a host name", "BAREHOST": "a host name",
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
    problems = builder.problems + check_call_args(cfg, pre.sources)
    if problems:
        raise ConfigError(problems)
    for w in pre.warnings:
        log.warning("%s", w)
    cfg.sources = pre.sources
    cfg.defines = dict(pre.defines)
    cfg.files = list(pre.files)
    return cfg


# ---------------------------------------------------------------- unquoted arguments
# Kamailio 5.6's grammar (cfg.y) takes unquoted hosts, IPs, sockets and words only in
# the core commands that have rules of their own; a module function's parameters are
# expressions, where `sl_send_reply(200, OK)` or `f(127.0.0.1)` is a syntax error.
FORWARDS = frozenset(("forward", "forward_udp", "forward_tcp", "forward_tls", "forward_sctp"))
_FLAG_FUNCS = frozenset(("setflag", "resetflag", "isflagset"))
_ADDRESS_FUNCS = frozenset(("force_send_socket", "set_advertised_address"))


def _unquoted(e) -> bool:
    return isinstance(e, (ast_mod.Word, ast_mod.HostName, ast_mod.IpConst, ast_mod.Socket))


def _walk(node):
    """Every AST node below (and including) node, depth first."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list):
            stack.extend(reversed(n))
            continue
        if not isinstance(n, ast_mod.Node):
            continue
        yield n
        for f in dataclasses.fields(n):
            v = getattr(n, f.name)
            if isinstance(v, (list, ast_mod.Node)):
                stack.append(v)


def check_call_args(cfg, sources) -> list:
    """Problems for unquoted arguments where Kamailio refuses them; also normalises the
    forms it takes (setflag("NAME") is setflag(NAME), forward(uri:host, uri:port) is
    forward())."""
    problems = []

    def bad(e, message, hint):
        problems.append(sources.problem(e.pos, message, hint))

    for block in cfg.routes:
        for n in _walk(block.body):
            if not isinstance(n, ast_mod.Call):
                continue
            name, args = n.name, n.args
            if name in FORWARDS:
                _check_forward(n, bad)
            elif name in _FLAG_FUNCS:
                # Kamailio's flag_name is an ID or a string naming a declared flag
                n.args = [ast_mod.Word(a.value, pos=a.pos) if isinstance(a, ast_mod.Const)
                          and isinstance(a.value, str) and not isinstance(a, ast_mod.HostName)
                          and a.value.isidentifier() else a for a in args]
            elif name in _ADDRESS_FUNCS:
                for a in args:
                    if not (_unquoted(a) or (isinstance(a, ast_mod.Const) and isinstance(a.value, str))):
                        bad(a, f"bad argument of {name}(): an address is expected",
                            f'write it unquoted ({name}(udp:1.2.3.4:5060)) or as a quoted string; '
                            "Kamailio 5.6 takes no variables here")
            elif name == "set_advertised_port":
                for a in args:
                    if not (isinstance(a, ast_mod.Const) and isinstance(a.value, int)):
                        bad(a, "bad argument of set_advertised_port(): a port number is expected",
                            "write the number unquoted: set_advertised_port(5080)")
            else:
                for a in args:
                    if _unquoted(a):
                        text = getattr(a, "text", None) or a.value
                        bad(a, f"unquoted '{text}' as a parameter of {name}()",
                            f'quote it: "{text}" (a bare word here is a syntax error in Kamailio too)')
    return problems


def _check_forward(n, bad):
    args = n.args
    name = n.name
    hint = (f"{name}() takes a host, an IP or a quoted string, then an optional port number; "
            "to send to a variable set $du and call forward()")
    if len(args) > 2:
        bad(args[2], f"too many parameters for {name}()", hint)
        return
    if not args:
        return
    first = args[0]
    uri_host = isinstance(first, ast_mod.Word) and first.text == "uri:host"
    if not (_unquoted(first) or (isinstance(first, ast_mod.Const) and isinstance(first.value, str))) \
            or isinstance(first, ast_mod.Socket) or (isinstance(first, ast_mod.Word) and first.text == "uri:port"):
        bad(first, f"bad {name} argument", hint)
        return
    if len(args) == 2:
        second = args[1]
        uri_port = isinstance(second, ast_mod.Word) and second.text == "uri:port"
        if uri_port and not uri_host:
            bad(second, f"bad {name} argument: uri:port goes only with uri:host", hint)
            return
        if not uri_port and not (isinstance(second, ast_mod.Const) and isinstance(second.value, int)
                                 and not isinstance(second, ast_mod.HostName)):
            bad(second, f"bad {name} argument: the port must be a number", hint)
            return
        if uri_host and not uri_port:
            bad(first, f"{name}(uri:host, PORT) is not supported by kamapy yet",
                f"use {name}() to send to the R-URI's host and port")
            return
    if uri_host:
        n.args = []  # uri:host[, uri:port] is the R-URI's own host and port: plain forward()


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
    if not hint and _UNDEFINED_NAME.fullmatch(got or "") and got not in pre.defines:
        hint = _undefined_define_hint(got, pre.files)
    if not got:
        brace = _unclosed_brace(text)
        if brace is not None:
            pos = smap.position(brace)
            message = "unbalanced braces: this '{' is never closed"
            hint = "add the missing '}' (or remove an extra '{')"
    return pre.sources.problem(pos, message, hint)


_UNDEFINED_NAME = re.compile(r"[A-Z][A-Z0-9_]{2,}")


def _undefined_define_hint(name: str, files: list[str]) -> str:
    """A bare upper-case word where a value goes is usually a #!define name whose
    #!define sits under a switch that is off (Debian's DBURL, defined under WITH_MYSQL)."""
    pat = re.compile(r"^\s*#!(define|trydef|redefine)\s+" + re.escape(name) + r"\b", re.M)
    for f in files:
        try:
            with open(f, encoding="latin-1") as fh:
                src = fh.read()
        except OSError:
            continue
        m = pat.search(src)
        if m:
            line = src.count("\n", 0, m.start()) + 1
            return (f"'{name}' is not defined: its #!{m.group(1)} at {f}:{line} is inside a switch "
                    "that is off (look at the #!ifdef above it; -A NAME turns one on)")
    return f"'{name}' is no value here: a #!define name that is not defined? (-A {name}=VALUE defines it)"


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
    if got == "{" and _SOCKET_BLOCK.search(text, max(0, off - 40), off):
        # kamailio 5.6.3: "parse error ... column 8: syntax error" / "unknown config variable"
        return ("the socket = { ... } block is Kamailio 5.7's: Kamailio 5.6 refuses it "
                "(unknown config variable)",
                'write it as a listen line: listen=udp:127.0.0.1:5060 advertise 1.2.3.4:5080 name "udp0"',
                False)
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


_SOCKET_BLOCK = re.compile(r"(?:^|[\s;])socket\s*=\s*$")
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
