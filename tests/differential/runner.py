"""The differential runner: play one case (tests/differential/cases/**/*.toml) against a
running server and return what each actor received, normalised so that two servers'
transcripts can be compared line for line. The case format is in README.md beside this
file; test_corpus.py runs every case on Kamailio and on kamapy.

Sans-pytest on purpose: `python -m tests.differential.runner CASE.toml` plays one case
against both servers and prints the transcripts side by side.
"""

from __future__ import annotations

import difflib
import re
import select
import socket
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
CONFIGS = HERE / "configs"

SETTLE = 0.06         # s: quiet wait after each expect, for extras to show up
FINAL_SETTLE = 0.15   # s: the same at the end of a case
EXPECT_TIMEOUT = 1.0  # s: how long an expect waits for its messages
SILENCE_TIMEOUT = 0.3  # s: how long `count = 0` listens before calling it "dropped"

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")

REASONS = {100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 183: "Session Progress",
           200: "OK", 202: "Accepted", 302: "Moved Temporarily", 400: "Bad Request",
           403: "Forbidden", 404: "Not Found", 408: "Request Timeout", 480: "Temporarily Unavailable",
           481: "Call/Transaction Does Not Exist", 486: "Busy Here", 487: "Request Terminated",
           488: "Not Acceptable Here", 500: "Server Internal Error", 503: "Service Unavailable",
           600: "Busy Everywhere", 603: "Decline"}

STEP_KINDS = ("send", "reply", "expect", "sleep")
STEP_KEYS = {
    "send": {"send", "from", "to", "raw"},
    "reply": {"reply", "from", "method", "reason", "to_tag", "headers", "body", "vias"},
    "expect": {"expect", "count", "timeout"},
    "sleep": {"sleep"},
}
CASE_KEYS = {"config", "summary", "actors", "deliberate", "expires_slack", "flow_tokens", "step"}


def config_fmt(config: str, tmpdir: str) -> dict[str, str]:
    """Extra template values for a config: when configs/<config>.sql exists, a fresh
    SQLite database in tmpdir made from it, as `{db}` (its file name, for
    `sqlite://{db}` in the config -- db_sqlite on Kamailio, kamapy.db on kamapy, one file
    for both). The file's first line `-- tables: a b ...` names the Kamailio tables to
    create (kamapy.db.schema, with their version rows); the rest is SQL run on it."""
    sql = CONFIGS / f"{config}.sql"
    if not sql.is_file():
        return {}
    import sqlite3

    from kamapy.db.schema import create_tables
    text = sql.read_text()
    first = text.splitlines()[0] if text else ""
    tables = first.split(":", 1)[1].split() if first.startswith("-- tables:") else []
    path = str(Path(tmpdir) / f"{config}.sqlite")
    create_tables(f"sqlite://{path}", tables)
    with sqlite3.connect(path) as conn:
        conn.executescript(text)
    return {"db": path}


class CaseError(ValueError):
    """A case file that does not follow the format (named with its path)."""


@dataclass
class Case:
    id: str
    path: Path
    config: str
    summary: str
    actors: list[str]
    steps: list[dict]
    deliberate: str | None = None
    expires_slack: bool = True    # Contact expires= values compared to the nearest 10 s
    flow_tokens: bool = False     # RFC 5626 flow tokens in Route/Record-Route/Path read <FLOW>

    @property
    def group(self) -> str:
        return self.path.parent.name


def load_case(path: Path) -> Case:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise CaseError(f"{path}: {e}") from None
    unknown = set(data) - CASE_KEYS
    if unknown:
        raise CaseError(f"{path}: unknown keys {sorted(unknown)} (known: {sorted(CASE_KEYS)})")
    for key in ("config", "summary", "step"):
        if key not in data:
            raise CaseError(f"{path}: missing '{key}'")
    actors = data.get("actors", ["caller", "callee"])
    if not actors or not all(re.fullmatch(r"[a-z][a-z0-9]*", a) for a in actors):
        raise CaseError(f"{path}: actors must be lowercase words, got {actors}")
    if not (CONFIGS / f"{data['config']}.cfg").is_file():
        raise CaseError(f"{path}: no config {CONFIGS / (data['config'] + '.cfg')}")
    steps = data["step"]
    for i, step in enumerate(steps, 1):
        kinds = [k for k in STEP_KINDS if k in step]
        if len(kinds) != 1:
            raise CaseError(f"{path}: step {i} needs exactly one of {STEP_KINDS}, has {kinds}")
        extra = set(step) - STEP_KEYS[kinds[0]]
        if extra:
            raise CaseError(f"{path}: step {i} ({kinds[0]}): unknown keys {sorted(extra)}")
        for key in ("from", "to", "expect"):
            who = step.get(key)
            if who is not None and who != "server" and who not in actors:
                raise CaseError(f"{path}: step {i}: '{who}' is not an actor of this case {actors}")
    return Case(id=path.stem, path=path, config=data["config"], summary=data["summary"],
                actors=list(actors), steps=steps, deliberate=data.get("deliberate"),
                expires_slack=bool(data.get("expires_slack", True)),
                flow_tokens=bool(data.get("flow_tokens", False)))


def all_cases() -> list[Case | CaseError]:
    """Every case file; one that does not load is there as its CaseError."""
    out: list[Case | CaseError] = []
    for p in sorted(CASES.rglob("*.toml")):
        try:
            out.append(load_case(p))
        except CaseError as e:
            e.path = p
            out.append(e)
    return out


# --- the wire ----------------------------------------------------------------------

def _split(msg: bytes) -> tuple[list[bytes], bytes]:
    head, sep, body = msg.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


def _header_values(lines: list[bytes], *names: bytes) -> list[bytes]:
    out = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() in names:
            out.append(value.strip())
    return out


def _to_tag(msg: bytes) -> str:
    lines, _ = _split(msg)
    for value in _header_values(lines, b"to", b"t"):
        m = re.search(rb";\s*tag=([^;>\s,]+)", value)
        if m:
            return m.group(1).decode("latin-1")
    return ""


def _route_set(msg: bytes) -> str:
    """Route lines from a message's Record-Route: reversed for a reply (the UAC's route
    set), in order for a request (the UAS's)."""
    lines, _ = _split(msg)
    rrs: list[bytes] = []
    for value in _header_values(lines, b"record-route"):
        rrs.extend(v.strip() for v in re.split(rb",(?=\s*<)", value))
    if msg.startswith(b"SIP/2.0 "):
        rrs.reverse()
    return "".join(f"Route: {r.decode('latin-1')}\r\n" for r in rrs)


# every port an actor had in this process: a server may go on retransmitting to an
# earlier case's actor (a final reply until its ACK, for up to 32 s), so a new actor
# never takes such a port again, or it would receive that stray as its own traffic
_used_ports: set[int] = set()


def _fresh_socket(tries: int = 64) -> socket.socket:
    for attempt in range(tries):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        if port not in _used_ports or attempt == tries - 1:  # the last try is taken anyway
            _used_ports.add(port)
            return sock
        sock.close()
    raise AssertionError("unreachable")


class Actor:
    """A UDP socket on 127.0.0.1: what it received (with where from) and its last ones."""

    def __init__(self, name: str):
        self.name = name
        self.sock = _fresh_socket()
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.expected = 0  # how many of `received` earlier expect steps have accounted for
        self.last_request: tuple[bytes, tuple] | None = None
        self.requests: dict[str, tuple[bytes, tuple]] = {}  # method -> the last one
        self.last: bytes | None = None
        self.last_reply: bytes | None = None

    def take(self) -> int:
        """Read every datagram waiting now; returns how many."""
        n = 0
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, ConnectionRefusedError):
                return n
            n += 1
            self.received.append(data)
            self.last = data
            if data.startswith(b"SIP/2.0 "):
                self.last_reply = data
            else:
                self.last_request = (data, addr)
                self.requests[data.split(b" ", 1)[0].decode("latin-1")] = (data, addr)

    def close(self):
        self.sock.close()


@dataclass
class Transcript:
    """What each actor received (raw), and the values the actors themselves sent."""

    received: dict[str, list[bytes]]
    ports: dict[str, int]           # SERVER / CALLER / ... -> port
    sent_tokens: set[str] = field(default_factory=set)
    expires_slack: bool = False
    flow_tokens: bool = False

    def normalised(self) -> dict[str, list[list[str]]]:
        return {actor: [normalise(m, self.ports, self.sent_tokens, self.expires_slack, self.flow_tokens)
                        for m in msgs]
                for actor, msgs in self.received.items()}


_TOKEN_RE = re.compile(r"(branch=|tag=)([^;,>\s\"]+)", re.I)
# the default signatures of the two servers: "Server: kamailio (5.6.3 (x86_64/linux))"
_PRODUCT_RE = re.compile(r"^(server|user-agent)\s*:\s*(kamailio|kamapy) \(", re.I)
_CALLID_RE = re.compile(r"^(call-id|i)(\s*:\s*)(.*)$", re.I)
# dialog's rr param in a Record-Route: h_entry.h_id, where h_id starts at a random point
_DID_RE = re.compile(r"(;did=[0-9a-f]*\.)([0-9a-f]+)", re.I)
# an outbound flow token as a URI user part: Kamailio's (base64 of 23 / 47 bytes, '='
# padded) or kamapy's (base64url of the same sizes, unpadded) -- each server has its own
# encoding (docs/differences.md D-outbound-1), so only where one stands is compared
_FLOW_RE = re.compile(r"(<sips?:)([A-Za-z0-9+/]{31}=|[A-Za-z0-9+/]{63}=|[A-Za-z0-9_-]{31}|[A-Za-z0-9_-]{63})@")


def _round_expires(m: re.Match) -> str:
    return f"{m.group(1)}~{round(int(m.group(2)) / 10) * 10}"


def normalise(msg: bytes, ports: dict[str, int], sent: set[str], expires_slack: bool = False,
              flow_tokens: bool = False) -> list[str]:
    """One message as comparable lines: ports named, server-made branch/tag/Call-ID
    values replaced, the servers' own default Server/User-Agent values named <PRODUCT>. The body stays as it is. With
    expires_slack, a Contact's expires= is rounded to 10 s (a registrar computes it
    from the clock, so it may read 599 on one server and 600 on the other)."""
    text = msg.decode("latin-1")
    for name, port in ports.items():
        text = re.sub(rf"(?<![0-9]){port}(?![0-9])", name, text)

    def token(m: re.Match) -> str:
        if m.group(2) in sent:
            return m.group(0)
        return m.group(1) + ("<B>" if m.group(1).lower() == "branch=" else "<T>")

    head, sep, body = text.partition("\r\n\r\n")
    out = []
    for line in head.split("\r\n"):
        low = line.lower()
        if _PRODUCT_RE.match(line):
            line = line.split(":", 1)[0] + ": <PRODUCT>"
        line = _TOKEN_RE.sub(token, line)
        if low.startswith(("record-route:", "route:")):
            line = _DID_RE.sub(r"\1<D>", line)
        if flow_tokens and low.startswith(("record-route:", "route:", "path:")):
            line = _FLOW_RE.sub(r"\1<FLOW>@", line)
        if expires_slack and low.startswith(("contact:", "m:")):
            line = re.sub(r"(expires=)(\d+)", _round_expires, line)
        m = _CALLID_RE.match(line)
        if m and m.group(3).strip() not in sent:
            line = m.group(1) + m.group(2) + "<CALLID>"
        out.append(line)
    if sep:
        out.append("")
        out.extend(body.split("\r\n"))
    return out


_SENT_TOKEN_RE = re.compile(r"(?:branch=|tag=)([^;,>\s\"]+)", re.I)
_SENT_CALLID_RE = re.compile(r"^(?:call-id|i)\s*:\s*(.*?)\s*$", re.I | re.M)


def _fill(text: str, values: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        key = m.group(1)
        if key not in values:
            raise CaseError(f"unknown template {{{key}}} (known: {sorted(values)})")
        return values[key]
    return re.sub(r"\{\{|\}\}|\{([a-z_][a-z0-9_]*)\}", sub, text)


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _with_len(text: str) -> str:
    """Fill {len} with the byte length of what follows the first empty line."""
    if "{len}" not in text:
        return text
    _, sep, body = text.partition("\r\n\r\n")
    n = len(body.encode("latin-1")) if sep else 0
    return text.replace("{len}", str(n))


def play(case: Case, server_port: int, host: str = "127.0.0.1") -> Transcript:
    actors = {name: Actor(name) for name in case.actors}
    sent_tokens: set[str] = set()
    try:
        base = {"server": f"{host}:{server_port}", "server_port": str(server_port),
                "case": re.sub(r"[^A-Za-z0-9-]", "-", case.id)}
        for a in actors.values():
            base[a.name] = f"127.0.0.1:{a.port}"
            base[f"{a.name}_port"] = str(a.port)

        def values_for(actor: Actor) -> dict[str, str]:
            v = dict(base)
            v["route"] = _route_set(actor.last) if actor.last else ""
            v["to_tag"] = _to_tag(actor.last_reply) if actor.last_reply else ""
            v["len"] = "{len}"  # filled after CRLF conversion
            return v

        def authored(text: str):
            """Remember the branch, tag and Call-ID values a case wrote itself (a value an
            actor only copied from the server, in a reply or through {route}/{to_tag},
            is the server's and gets normalised)."""
            sent_tokens.update(_SENT_TOKEN_RE.findall(text))
            sent_tokens.update(_SENT_CALLID_RE.findall(text.partition("\n\n")[0]))

        def pump(seconds: float):
            """Receive on every actor for `seconds`."""
            end = time.monotonic() + seconds
            while True:
                left = max(0.0, end - time.monotonic())
                ready, _, _ = select.select([a.sock for a in actors.values()], [], [], left)
                for a in actors.values():
                    if a.sock in ready:
                        a.take()
                if not ready and time.monotonic() >= end:
                    return

        for step in case.steps:
            if "send" in step:
                actor = actors[step.get("from", "caller")]
                authored(_fill(step["send"], {**values_for(actor), "route": "", "to_tag": ""})
                         .replace("\r\n", "\n"))
                text = _fill(step["send"], values_for(actor))
                if not step.get("raw"):
                    text = _crlf(text)
                text = _with_len(text)
                to = step.get("to", "server")
                dest = (host, server_port) if to == "server" else ("127.0.0.1", actors[to].port)
                actor.sock.sendto(text.encode("latin-1"), dest)
            elif "reply" in step:
                actor = actors[step.get("from", "callee")]
                pump(0)  # take what is already waiting
                method = step.get("method")
                got = actor.requests.get(method) if method else actor.last_request
                if got is None:
                    raise CaseError(f"{case.path}: {actor.name} has no {method or ''} request to reply to")
                req, addr = got
                authored(f"tag={step.get('to_tag', actor.name + '-tag')}")
                actor.sock.sendto(build_reply(actor, req, step, values_for(actor)), addr)
            elif "expect" in step:
                actor = actors[step["expect"]]
                count = int(step.get("count", 1))
                timeout = float(step.get("timeout", EXPECT_TIMEOUT if count else SILENCE_TIMEOUT))
                # messages that came before this step count: a 100 Trying is often there
                # before the case gets to expect it
                end = time.monotonic() + timeout
                while len(actor.received) - actor.expected < count or count == 0:
                    left = end - time.monotonic()
                    if left <= 0:
                        break
                    pump(min(left, 0.05))
                pump(SETTLE)
                actor.expected = max(actor.expected + count, len(actor.received))
            elif "sleep" in step:
                pump(float(step["sleep"]))
        pump(FINAL_SETTLE)
        ports = {"SERVER": server_port, **{a.name.upper(): a.port for a in actors.values()}}
        return Transcript({a.name: list(a.received) for a in actors.values()}, ports, sent_tokens,
                          case.expires_slack, case.flow_tokens)
    finally:
        for a in actors.values():
            a.close()


def build_reply(actor: Actor, req: bytes, step: dict, values: dict[str, str]) -> bytes:
    """The reply a simple UAS sends to `req` (see README: the `reply` step)."""
    code = int(step["reply"])
    reason = step.get("reason") or REASONS.get(code, "Unknown")
    lines, _ = _split(req)
    method = lines[0].split(b" ", 1)[0].decode("latin-1")
    out = [f"SIP/2.0 {code} {reason}"]
    to_tag = step.get("to_tag", f"{actor.name}-tag")
    one_line = step.get("vias") == "one line"  # "Via: a, b", as SIPp's replies write them
    if step.get("vias") not in (None, "one line"):
        raise ValueError(f"reply step: vias must be \"one line\", not {step['vias']!r}")
    vias = []
    for line in lines[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        text = line.decode("latin-1")
        if one_line and name in (b"via", b"v"):
            if not vias:
                out.append("")  # the joined line goes where the first Via was
                at = len(out) - 1
            vias.append(text.split(":", 1)[1].strip())
        elif name in (b"via", b"v", b"record-route", b"from", b"f", b"call-id", b"i", b"cseq"):
            out.append(text)
        elif name in (b"to", b"t"):
            if code > 100 and to_tag and not re.search(r";\s*tag=", text):
                text += f";tag={to_tag}"
            out.append(text)
    if vias:
        out[at] = "Via: " + ", ".join(vias)
    if method == "INVITE" and code < 300:
        out.append(f"Contact: <sip:{actor.name}@127.0.0.1:{actor.port}>")
    if step.get("headers"):
        out.extend(_crlf(_fill(step["headers"], values)).rstrip("\r\n").split("\r\n"))
    body = step.get("body", "")
    if body == "sdp":
        body = SDP
    elif body:
        body = _crlf(_fill(body, values))
    out.append(f"Content-Length: {len(body.encode('latin-1'))}")
    return ("\r\n".join(out) + "\r\n\r\n" + body).encode("latin-1")


def diff(want: dict[str, list[list[str]]], got: dict[str, list[list[str]]]) -> str:
    """A readable account of where two normalised transcripts differ ('' if equal)."""
    out = []
    for actor in want:
        w, g = want[actor], got.get(actor, [])
        if len(w) != len(g):
            out.append(f"{actor}: Kamailio sent {len(w)} message(s), kamapy {len(g)}")
            out.append(f"  Kamailio: {[m[0] if m else '' for m in w]}")
            out.append(f"  kamapy:   {[m[0] if m else '' for m in g]}")
        for i, (wm, gm) in enumerate(zip(w, g, strict=False)):
            if wm != gm:
                out.append(f"{actor} message {i + 1} differs:")
                out.extend("  " + ln for ln in difflib.unified_diff(
                    wm, gm, "kamailio", "kamapy", lineterm="", n=1))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Play cases on both servers and print where they differ."""
    import argparse

    from tests.support.kamailio import MODULES, KamailioServer
    from tests.support.server import KamapyServer

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("cases", nargs="+", type=Path)
    ap.add_argument("-v", action="store_true", help="print both transcripts")
    args = ap.parse_args(argv)
    cases = [load_case(p.resolve()) for p in args.cases]
    bad = 0
    import tempfile
    dbdir = tempfile.TemporaryDirectory(prefix="kamapy-diff-db-")
    for config in sorted({c.config for c in cases}):
        text = (CONFIGS / f"{config}.cfg").read_text()
        extra = config_fmt(config, dbdir.name)
        with KamailioServer(text, fmt=extra) as kam, \
                KamapyServer(text, children=1, fmt={"mpath": MODULES, **extra}) as kp:
            for case in (c for c in cases if c.config == config):
                want = play(case, kam.port).normalised()
                got = play(case, kp.port).normalised()
                d = diff(want, got)
                print(f"{'DIFF' if d else 'same'} {case.id}")
                if d:
                    bad += 1
                    print(d)
                if args.v:
                    for name, t in (("Kamailio", want), ("kamapy", got)):
                        print(f"--- {name}")
                        for actor, msgs in t.items():
                            for m in msgs:
                                print(f"[{actor}]\n  " + "\n  ".join(m))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
