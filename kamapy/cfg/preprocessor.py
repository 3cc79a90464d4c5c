"""The config preprocessor: Kamailio's #! directives, define substitution, includes.

Kamailio does this inside its lexer (cfg.lex, ppcfg.c); kamapy does it as a pass of
its own that scans the text in the same lexical states, so the same things happen:

  - directives: #!define / #!trydef / #!redefine / #!undef / #!tryundef, #!ifdef /
    #!ifndef / #!else / #!endif (nested), #!subst / #!substdef / #!substdefs,
    #!defenv / #!defenvs / #!trydefenv / #!trydefenvs, #!include_file /
    #!import_file (also without #!), all with `!!` accepted for `#!`;
  - a defined name used as an identifier token is replaced by its value, which is
    scanned again (so a value may be a string, a number, several tokens or another
    define). Names inside strings, pseudo-variables, comments and event_route
    names are left alone — only #!subst/#!substdef rules change strings and PVs;
  - header lines (#!KAMAILIO, #!KAMAPY, #!SER, #!MAXCOMPAT) and unknown `#!x` lines
    are comments, as `#` starts a line comment.

The output is one text for the grammar plus a SourceMap, so every later error
names the original file:line:col.
"""

from __future__ import annotations

import bisect
import os
import re
from dataclasses import dataclass, field

from .errors import ConfigError, Position, SourceLines
from .pvscan import pv_end

# Names Kamailio's lexer reads as keywords, never as define names to substitute.
STATEMENT_KEYWORDS = frozenset("""
    route request_route failure_route reply_route onreply_route branch_route onsend_route
    event_route if else switch case default while break return exit drop loadmodule
    loadmodulex loadpath mpath modparam modparamx include_file import_file
    yes no true false on off enable disable udp tcp tls sctp ws wss UDP TCP TLS SCTP WS WSS
    inet inet6 INET INET6 ipv4 ipv6 IPv4 IPv6 IPV4 IPV6 method uri status from_uri to_uri
    src_ip src_port dst_ip dst_port snd_ip snd_port snd_proto to_proto snd_af to_af to_ip
    to_port proto af myself strlen strempty defined selval eq ieq ne ine mod and or not
    forward forward_tcp forward_udp forward_tls forward_sctp log error exec setflag resetflag
    isflagset flags bool setavpflag resetavpflag isavpflagset avpflags
    rewritehost sethost seth rewritehostport sethostport sethp rewritehostporttrans
    sethostporttrans sethpt rewriteuser setuser setu rewriteuserpass setuserpass setup
    rewriteport setport setp rewriteuri seturi revert_uri prefix strip strip_tail userphone
    remove_branch clear_branches set_advertised_address set_advertised_port
    force_send_socket set_forward_no_connect set_reply_no_connect set_forward_close
    set_reply_close force_rport add_rport force_tcp_alias add_tcp_alias add_local_rport
    udp_mtu_try_proto cfg_select cfg_reset advertise ADVERTISE name NAME virtual
    description descr desc
""".split())

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN = re.compile(r"[^A-Za-z0-9_/#!\"'$\\\n]+")
_WORD = re.compile(r"[A-Za-z0-9_]+")
_DIRECTIVE = re.compile(
    r"(?:#!|!!)(defenvs|defenv|trydefenvs|trydefenv|defexps|defexp|define|def|trydefine|trydef"
    r"|redefine|redef|undefine|undef|tryundefine|tryundef|ifdef|ifndef|ifexp|else|endif"
    r"|substdefs|substdef|subst|include_file|import_file)(?![A-Za-z0-9_])"
)
_SKIP_DIRECTIVE = re.compile(r"(?:#!|!!)(ifdef|ifndef|else|endif)(?![A-Za-z0-9_])")
# directives Kamailio added in 5.7 (#!defexp, #!defexps, #!ifexp): comments in 5.6
KAMAILIO_5_7_DIRECTIVES = frozenset(("defexp", "defexps", "ifexp"))
_EVRT_NAME = re.compile(r"\s*\[\s*[^\]\s]*\s*\]")
_MAX_INCLUDE_DEPTH = 10
_MAX_EXPANSION_DEPTH = 32


class SourceMap:
    """Maps an offset in the preprocessed text back to the original file:line:col.

    Anchors mark where a run of text copied verbatim from one file starts; text a
    define expanded to is 'atomic' — all of it maps to the name it replaced."""

    def __init__(self):
        self._out: list[int] = []          # anchor offsets in the output, ascending
        self._anchor: list[tuple] = []     # (file, src_offset, atomic)
        self._line_starts: dict[str, list[int]] = {}

    def add_file(self, name: str, text: str):
        starts = [0]
        find = text.find
        i = find("\n")
        while i >= 0:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self._line_starts[name] = starts

    def anchor(self, out_offset: int, file: str, src_offset: int, atomic: bool):
        if self._out and self._out[-1] == out_offset:
            self._anchor[-1] = (file, src_offset, atomic)
        else:
            self._out.append(out_offset)
            self._anchor.append((file, src_offset, atomic))

    def src_position(self, file: str, src_offset: int) -> Position:
        starts = self._line_starts[file]
        li = bisect.bisect_right(starts, src_offset) - 1
        return Position(file, li + 1, src_offset - starts[li] + 1)

    def position(self, out_offset: int) -> Position | None:
        if not self._out:
            return None
        i = bisect.bisect_right(self._out, out_offset) - 1
        if i < 0:
            i = 0
        file, src, atomic = self._anchor[i]
        if not atomic:
            src += out_offset - self._out[i]
        return self.src_position(file, src)


@dataclass
class Preprocessed:
    text: str
    source_map: SourceMap
    sources: SourceLines
    defines: dict[str, str | None]
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _SubstRule:
    regex: re.Pattern
    repl: str
    replace_all: bool

    def apply(self, s: str) -> str:
        return self.regex.sub(self.repl, s, count=0 if self.replace_all else 1)


def parse_define_arg(arg: str) -> tuple[str, str | None]:
    """`-A NAME` or `-A NAME=VALUE` from the command line."""
    name, sep, value = arg.partition("=")
    return name.strip(), (value if sep else None)


class Preprocessor:
    """Run once per config: Preprocessor(defines).run(path) -> Preprocessed."""

    def __init__(self, defines: dict[str, str | None] | None = None):
        # Kamailio predefines its version: kamapy stands in for 5.6.3, the oracle, so a
        # config's `#!ifdef KAMAILIO_5_6` takes the branch it takes there (5.6 has no
        # KAMAILIO_VERSION / OS_NAME: those came with 5.7)
        self.defines: dict[str, str | None] = {
            "KAMAILIO_5": None, "KAMAILIO_5_6": None, "KAMAILIO_5_6_3": None, "KAMAPY": None,
        }
        self.defines.update(defines or {})
        self.subst_rules: list[_SubstRule] = []
        self.sources = SourceLines()
        self.map = SourceMap()
        self._out: list[str] = []
        self._out_len = 0
        self._last: tuple | None = None   # (file, src_end) of the last verbatim emit
        self._ifdefs: list[list] = []      # [active, Position, in_else]
        self._files: list[str] = []
        self._depth = 0
        self.problems = []
        self.warnings: list[str] = []   # "file:line:col: text", logged by the parser
        self._comment_ifexp: list = []  # positions of #!ifexp lines read as comments

    # ------------------------------------------------------------ entry points
    def run(self, path: str) -> Preprocessed:
        try:
            with open(path, encoding="latin-1") as f:
                text = f.read()
        except OSError as e:
            raise ConfigError(self.sources.problem(None, f"cannot read config file {path}: {e.strerror}")) from None
        self.run_text(text, path)
        return self.result()

    def run_text(self, text: str, name: str):
        self._scan_file(name, text)
        if self._ifdefs:
            active, pos, _ = self._ifdefs[-1]
            self._fail(pos, "unterminated #!ifdef: no matching #!endif before the end of the config",
                       "add #!endif (it needs a line end after it, even at the end of the file)")

    def result(self) -> Preprocessed:
        return Preprocessed("".join(self._out), self.map, self.sources, self.defines, self._files,
                            list(self.warnings))

    # ------------------------------------------------------------ output
    def _emit(self, s: str, file: str, src: int):
        """Copy text that stands at `src` in `file`."""
        if not s:
            return
        if self._last != (file, src):
            self.map.anchor(self._out_len, file, src, False)
        self._out.append(s)
        self._out_len += len(s)
        self._last = (file, src + len(s))

    def _emit_atomic(self, s: str, file: str, src: int):
        """Emit text that did not come from the source verbatim (a define's value)."""
        if not s:
            return
        self.map.anchor(self._out_len, file, src, True)
        self._out.append(s)
        self._out_len += len(s)
        self._last = None

    def _fail(self, pos: Position, message: str, hint: str = ""):
        raise ConfigError(self.sources.problem(pos, message, hint))

    # ------------------------------------------------------------ scanning
    def _skipping(self) -> bool:
        return any(not e[0] for e in self._ifdefs)

    def _scan_file(self, name: str, text: str):
        if self._depth >= _MAX_INCLUDE_DEPTH:
            self._fail(None, f"too many nested includes (more than {_MAX_INCLUDE_DEPTH}) at {name}")
        self._depth += 1
        self._files.append(name)
        self.sources.add(name, text)
        self.map.add_file(name, text)
        try:
            self._scan(name, text)
        finally:
            self._depth -= 1
        self._emit_atomic("\n", name, max(len(text) - 1, 0))

    def _pos(self, file: str, i: int) -> Position:
        return self.map.src_position(file, i)

    def _scan(self, file: str, text: str):
        i = 0
        n = len(text)
        emit = self._emit
        while i < n:
            if self._skipping():
                i = self._skip(file, text, i)
                continue
            m = _PLAIN.match(text, i)
            if m:
                emit(m.group(), file, i)
                i = m.end()
                continue
            c = text[i]
            if c == "\n":
                emit(c, file, i)
                i += 1
            elif c == "#" or c == "!":
                m = _DIRECTIVE.match(text, i)
                if m:
                    i = self._directive(file, text, i, m)
                elif c == "#":
                    i = self._line_comment(file, text, i)
                else:
                    emit(c, file, i)
                    i += 1
            elif c == "/":
                nxt = text[i + 1: i + 2]
                if nxt == "/":
                    i = self._line_comment(file, text, i)
                elif nxt == "*":
                    i = self._block_comment(file, text, i)
                else:
                    emit(c, file, i)
                    i += 1
            elif c == '"' or c == "'":
                i = self._string(file, text, i, emit_at=(file, i))
            elif c == "$":
                i = self._pv(file, text, i, emit_at=(file, i))
            elif c == "\\":
                if text.startswith("\n", i + 1):  # escaped line end joins lines
                    emit(" ", file, i)
                    i += 2
                elif text.startswith("\r\n", i + 1):
                    emit(" ", file, i)
                    i += 3
                else:
                    emit(c, file, i)
                    i += 1
            else:
                m = _WORD.match(text, i)
                word = m.group()
                end = m.end()
                if c.isdigit() or word in STATEMENT_KEYWORDS or word in _core_param_names():
                    emit(word, file, i)
                    if word == "event_route":
                        end = self._event_route_name(file, text, end)
                    elif word in ("include_file", "import_file"):
                        self._out.pop()
                        self._out_len -= len(word)
                        self._last = None
                        end = self._include(file, text, i, end, required=(word == "include_file"))
                    i = end
                elif word in self.defines:
                    self._expand(self.defines[word], file, i, 0)
                    i = end
                else:
                    emit(word, file, i)
                    i = end

    def _expand(self, value: str | None, file: str, at: int, depth: int):
        """Scan a define's value as if it stood where its name was (Kamailio unputs it)."""
        if not value:
            self._emit_atomic(" ", file, at)
            return
        if depth > _MAX_EXPANSION_DEPTH:
            self._fail(self._pos(file, at), "define expands into itself (recursion too deep)")
        out = []
        i = 0
        n = len(value)
        while i < n:
            c = value[i]
            if c == '"' or c == "'":
                j = _string_end(value, i)
                if j < 0:
                    self._fail(self._pos(file, at), "unterminated string in the value of a define")
                out.append(self._subst_string_literal(value[i:j]))
                i = j
            elif c == "$":
                j = pv_end(value, i)
                if j < 0:
                    j = i + 1
                out.append(self._subst(value[i:j]))
                i = j
            elif c == "#" or (c == "/" and value[i + 1: i + 2] == "/"):
                break  # the rest of the value is a comment, as in Kamailio
            elif c.isalpha() or c == "_":
                m = _ID.match(value, i)
                word = m.group()
                if word in self.defines and word not in STATEMENT_KEYWORDS:
                    if out:
                        self._emit_atomic("".join(out), file, at)
                        out = []
                    self._expand(self.defines[word], file, at, depth + 1)
                else:
                    out.append(word)
                i = m.end()
            else:
                m = _WORD.match(value, i)
                if m:
                    out.append(m.group())
                    i = m.end()
                else:
                    out.append(c)
                    i += 1
        out.append(" ")
        self._emit_atomic("".join(out), file, at)

    def _line_comment(self, file, text, i):
        j = text.find("\n", i)
        return len(text) if j < 0 else j  # the line end itself is kept

    def _block_comment(self, file, text, i):
        start = i
        depth = 0
        n = len(text)
        while i < n:
            if text.startswith("/*", i):
                depth += 1
                i += 2
            elif text.startswith("*/", i):
                depth -= 1
                i += 2
                if depth == 0:
                    # keep the line structure so Lark's own line count stays close
                    self._emit(" " + "\n" * text.count("\n", start, i), file, i - 1)
                    self._last = None
                    return i
            else:
                i += 1
        self._fail(self._pos(file, start), "unterminated comment: '/*' without a closing '*/'",
                   "close the comment with */ (comments nest: each /* needs its own */)")

    def _string(self, file, text, i, emit_at):
        j = _string_end(text, i)
        if j < 0:
            quote = text[i]
            self._fail(self._pos(file, i), "unterminated string",
                       f"add the closing {quote} (a string may span lines, so it can end far below)")
        literal = text[i:j]
        new = self._subst_string_literal(literal)
        if new is literal:
            self._emit(literal, file, i)
        else:
            self._emit_atomic(new, file, i)
        return j

    def _subst_string_literal(self, literal: str) -> str:
        if not self.subst_rules:
            return literal
        value = decode_string(literal)
        new = self._subst(value)
        if new == value:
            return literal
        return encode_string(new)

    def _subst(self, s: str) -> str:
        for rule in self.subst_rules:
            s = rule.apply(s)
        return s

    def _pv(self, file, text, i, emit_at):
        j = pv_end(text, i)
        if j == -1:
            self._fail(self._pos(file, i), "unterminated pseudo-variable: '(' without matching ')'")
        if j == -2:  # a lone '$': let the grammar report it
            self._emit("$", file, i)
            return i + 1
        pv = text[i:j]
        new = self._subst(pv) if self.subst_rules else pv
        if new == pv:
            self._emit(pv, file, i)
        else:
            self._emit_atomic(new, file, i)
        return j

    def _event_route_name(self, file, text, i):
        m = _EVRT_NAME.match(text, i)
        if m:
            self._emit(m.group(), file, i)
            return m.end()
        return i

    # ------------------------------------------------------------ directives
    def _rest_of_line(self, text, i):
        j = text.find("\n", i)
        return (text[i:], len(text)) if j < 0 else (text[i:j], j + 1)

    def _directive(self, file, text, i, m) -> int:
        word = m.group(1)
        pos = self._pos(file, i)
        j = m.end()
        if word in KAMAILIO_5_7_DIRECTIVES:
            # Kamailio 5.6.3 has no such directive: its lexer reads the line as a comment
            # (the name stays undefined, an #!ifexp opens nothing); say so, then do the same
            if word == "ifexp":
                self._comment_ifexp.append(pos)
            self.warnings.append(f"{pos}: #!{word} is Kamailio 5.7's; Kamailio 5.6 reads this "
                                 "line as a comment, and so does kamapy")
            return self._line_comment(file, text, i)
        if word in ("include_file", "import_file"):
            return self._include(file, text, i, j, required=(word == "include_file"))
        if word in ("subst", "substdef", "substdefs"):
            return self._subst_directive(file, text, i, j, word)
        if word in ("else", "endif"):
            rest, nxt = self._rest_of_line(text, j)
            if rest.strip(" \t\r\b"):
                self._fail(pos, f"unexpected text after #!{word}: {rest.strip()!r}",
                           f"#!{word} must be alone on its line (move the comment to the next line)")
            if word == "else":
                self._pp_else(pos)
            else:
                self._pp_endif(pos)
            self._emit_atomic("\n", file, i)
            return nxt
        # the rest need whitespace then an ID
        if not text[j:j + 1] or text[j] not in " \t\r\b":
            return self._line_comment(file, text, i)  # e.g. '#!defineX' is a comment in Kamailio
        rest, nxt = self._rest_of_line(text, j)
        self._emit_atomic("\n", file, i)
        if word in ("ifdef", "ifndef"):
            name, tail = _split_id(rest)
            if not name or tail.strip(" \t\r\b"):
                self._fail(pos, f"#!{word} needs one name and nothing after it",
                           "use letters, digits and '_' only ('-' is not allowed)")
            found = name in self.defines
            self._ifdefs.append([found if word == "ifdef" else not found, pos, False])
            return nxt
        if word in ("define", "def", "trydefine", "trydef", "redefine", "redef"):
            name, tail = _split_id(rest)
            while tail.endswith("\\") or tail.endswith("\\\r"):  # escaped line end continues the value
                more, nxt = self._rest_of_line(text, nxt)
                tail = tail.rstrip("\r")[:-1] + more
            if not name or tail[:1] == "-":
                self._fail(pos, f"#!{word} needs a name made of letters, digits and '_'",
                           "'-' is not allowed in a define name")
            value = tail.strip(" \t\r\b") or None
            if name in self.defines:
                if word in ("trydefine", "trydef"):
                    return nxt
                if word not in ("redefine", "redef"):
                    self._fail(pos, f"{name} is already defined", "use #!redefine to change it, or #!trydef")
            self.defines[name] = value
            return nxt
        if word in ("undefine", "undef", "tryundefine", "tryundef"):
            name, tail = _split_id(rest)
            if not name or tail.strip(" \t\r\b"):
                self._fail(pos, f"#!{word} needs one name and nothing after it")
            if name not in self.defines:
                if word.startswith("try"):
                    return nxt
                self._fail(pos, f"{name} is not defined, cannot undefine it", "use #!tryundef")
            del self.defines[name]
            return nxt
        if word in ("defenv", "defenvs", "trydefenv", "trydefenvs"):
            spec = rest.strip(" \t\r\b")
            name, _, var = spec.partition("=")
            var = var or name
            value = os.environ.get(var)
            if value is None:
                if word.startswith("try"):
                    return nxt
                self._fail(pos, f"environment variable {var} is not set")
            if name in self.defines:
                self._fail(pos, f"{name} is already defined")
            self.defines[name] = f'"{value}"' if word.endswith("s") else value
            return nxt
        self._fail(pos, f"#!{word} is not supported by kamapy")

    def _subst_directive(self, file, text, i, j, word) -> int:
        pos = self._pos(file, i)
        k = j
        while k < len(text) and text[k] in " \t\r\n":
            k += 1
        if k >= len(text) or text[k] not in "\"'":
            self._fail(pos, f"#!{word} needs a quoted expression", f'write #!{word} "/regex/replacement/flags"')
        end = _string_end(text, k)
        if end < 0:
            self._fail(self._pos(file, k), "unterminated string")
        expr = decode_string(text[k:end])
        try:
            rule = parse_subst(expr)
        except ValueError as e:
            self._fail(pos, f"invalid #!{word} expression {expr!r}: {e}")
        self.subst_rules.append(rule)
        if word in ("substdef", "substdefs"):
            name = rule.regex.pattern
            if not _ID.fullmatch(name):
                self._fail(pos, f"#!{word}: the match part {name!r} must be a plain name to define it")
            if name in self.defines:
                self._fail(pos, f"{name} is already defined")
            repl = re.sub(r"\\g<(\d)>", r"\\\1", rule.repl).replace("\\\\", "\\")
            self.defines[name] = f'"{repl}"' if word == "substdefs" else repl
        self._emit_atomic("\n", file, i)
        return end

    def _pp_else(self, pos):
        if not self._ifdefs:
            self._fail(pos, "#!else without #!ifdef")
        top = self._ifdefs[-1]
        if top[2]:
            self._fail(pos, "second #!else for the same #!ifdef", f"the #!ifdef is at {top[1]}")
        top[0] = not top[0]
        top[2] = True

    def _pp_endif(self, pos):
        if not self._ifdefs:
            hint = ""
            if self._comment_ifexp:
                hint = (f"the #!ifexp at {self._comment_ifexp[-1]} is Kamailio 5.7's; 5.6 reads it as "
                        "a comment (Kamailio 5.6.3: 'different number of preprocessor directives')")
            self._fail(pos, "#!endif without #!ifdef", hint)
        self._ifdefs.pop()

    def _skip(self, file, text, i) -> int:
        """Inside a false #!ifdef: look only for the directives that nest or end it."""
        while True:
            m = _SKIP_DIRECTIVE.search(text, i)
            if not m:
                return len(text)
            word = m.group(1)
            pos = self._pos(file, m.start())
            rest, nxt = self._rest_of_line(text, m.end())
            if word in ("ifdef", "ifndef"):
                if not rest[:1] or rest[0] not in " \t\r\b":
                    i = m.end()
                    continue
                self._ifdefs.append([True, pos, False])  # value is irrelevant under a false one
                i = nxt
                continue
            if rest.strip(" \t\r\b"):
                i = m.end()  # not a directive for Kamailio either (a comment)
                continue
            if word == "else":
                self._pp_else(pos)
            else:
                self._pp_endif(pos)
            return nxt

    def _include(self, file, text, i, j, required: bool) -> int:
        pos = self._pos(file, i)
        rest, nxt = self._rest_of_line(text, j)
        m = re.match(r"[ \t]*(\"(?:[^\"\\]|\\.)*\"|'[^']*')", rest)
        kind = "include_file" if required else "import_file"
        if not m:
            self._fail(pos, f"{kind} needs a file name between quotes", f'write {kind} "other.cfg"')
        fname = self._subst(decode_string(m.group(1)))
        if not fname:
            self._fail(pos, f"{kind}: empty file name")
        path = fname
        if not os.path.isabs(fname):
            path = os.path.join(os.path.dirname(file), fname)
            if not os.path.exists(path) and os.path.exists(fname):
                path = fname  # Kamailio tries the name as given first
        if os.path.exists(fname) and os.path.isabs(fname):
            path = fname
        try:
            with open(path, encoding="latin-1") as f:
                inc = f.read()
        except OSError:
            if not required:
                return j + m.end()  # import_file: a missing file is skipped
            self._fail(pos, f"cannot open included file {fname!r} (looked for {path})",
                       "a relative name is taken relative to the file that includes it")
        self._scan_file(path, inc)
        self._last = None
        # whatever followed the name on the line goes on being scanned
        return j + m.end()


def _split_id(rest: str) -> tuple[str, str]:
    rest = rest.lstrip(" \t\r\b")
    m = _ID.match(rest)
    if not m:
        return "", rest
    return m.group(), rest[m.end():].lstrip(" \t\b") if rest[m.end():m.end() + 1] != "-" else rest[m.end():]


def _string_end(text: str, i: int) -> int:
    """Index past the string literal starting at text[i] (a quote); -1 if unterminated."""
    q = text[i]
    j = i + 1
    n = len(text)
    if q == "'":
        k = text.find("'", j)
        return -1 if k < 0 else k + 1
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == '"':
            return j + 1
        j += 1
    return -1


_ESCAPES = {"n": "\n", "r": "\r", "a": "\a", "t": "\t", '"': '"', "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{2,3}|\r?\n|.)", re.S)


def decode_string(literal: str) -> str:
    """The value of a "double" (escapes as cfg.lex) or 'single' (verbatim) quoted literal."""
    if literal[0] == "'":
        return literal[1:-1]

    def esc(m):
        e = m.group(1)
        if e in _ESCAPES:
            return _ESCAPES[e]
        if e[0] == "x":
            return chr(int(e[1:], 16))
        if e[0].isdigit() and len(e) >= 2:
            return chr(int(e, 8) & 0xFF)
        if e[0] in "\r\n":
            return ""  # escaped line end is eaten
        return "\\" + e  # unknown escapes stay as written (regex classes like \d)

    return _ESCAPE_RE.sub(esc, literal[1:-1])


def encode_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
        .replace("\r", "\\r").replace("\t", "\\t") + '"'


def parse_subst(expr: str) -> _SubstRule:
    """A Kamailio subst expression /regex/replacement/flags (any separator; flags i g s)."""
    if len(expr) < 3:
        raise ValueError("too short")
    sep = expr[0]
    parts = []
    cur = []
    i = 1
    while i < len(expr):
        c = expr[i]
        if c == "\\" and i + 1 < len(expr) and expr[i + 1] == sep:
            cur.append(sep)
            i += 2
            continue
        if c == sep and len(parts) < 2:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    if len(parts) != 2:
        raise ValueError(f"expected {sep}regex{sep}replacement{sep}flags")
    regex, repl = parts
    flags_s = "".join(cur)
    flags = re.MULTILINE
    if "i" in flags_s:
        flags |= re.IGNORECASE
    if "s" in flags_s:
        flags |= re.DOTALL
    bad = set(flags_s) - set("igs")
    if bad:
        raise ValueError(f"unknown flag(s) {''.join(sorted(bad))}")
    py_repl = re.sub(r"\\(\d)|\\(.)|(\\)$", lambda m: f"\\g<{m.group(1)}>" if m.group(1)
                     else (m.group(2).replace("\\", "\\\\") if m.group(2) else "\\\\"), repl)
    try:
        rx = re.compile(regex, flags)
    except re.error as e:
        raise ValueError(f"bad regular expression: {e}") from None
    return _SubstRule(rx, py_repl, "g" in flags_s)




def _core_param_names() -> frozenset:
    from .core_params import CORE_PARAM_NAMES
    return CORE_PARAM_NAMES
