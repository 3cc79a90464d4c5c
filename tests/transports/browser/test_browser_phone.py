"""A browser phone over the wire: headless Chromium running JsSIP registers to kamapy
over ws:// and wss:// and calls, through the stock config etc/kamapy.cfg with
`-A WITH_WEBSOCKETS -A WITH_TLS` (xhttp upgrade route, websocket module, nathelper
aliases, tls.cfg with trustme certificates).

- browser (ws) -> SIPp UAS over UDP: REGISTER 200, INVITE / 180 / 200 / ACK, BYE from
  the browser answered by SIPp (signalling only: SIPp answers with a WebRTC SDP, ICE,
  DTLS fingerprint, rtcp-mux, and no candidates, so no media flows);
- SIPp UAC over UDP -> browser (wss): the INVITE finds the WebSocket through the
  registration's received address, the ACK and BYE through the Contact alias;
- browser (ws) <-> browser (wss) in two tabs: both report the call confirmed, ICE
  connects over 127.0.0.1 (real WebRTC media between the tabs, not through kamapy),
  the callee sees the caller's BYE.

One Chromium for the module (tests/transports/browser/driver.js, puppeteer-core), the
npm packages of package-lock.json installed once into a cache directory (npm ci;
skipped with the reason when npm cannot reach its registry). Needs /usr/bin/chromium
(Debian package chromium), node and npm, sipp.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.support.ports import free_port_block, free_udp_ports
from tests.support.server import REPO, KamapyServer
from tests.support.sipclient import SipClient, status_of
from tests.support.sipp import SippRun, sipp_path

HERE = Path(__file__).parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

pytestmark = [
    pytest.mark.wire,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"no Chromium at {CHROMIUM} (Debian package chromium)"),
    pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None, reason="node / npm not installed"),
    pytest.mark.skipif(sipp_path() is None, reason="sipp not installed"),
]

NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH",
                  "network", "getaddrinfo")


def cache_root() -> Path:
    base = os.environ.get("KAMAPY_TEST_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kamapy-tests")
    return Path(base)


@pytest.fixture(scope="module")
def tools() -> Path:
    """node_modules from package-lock.json (npm ci, once per lock file) and JsSIP
    bundled for the page (jssip 3.13 ships no dist/); the page and driver next to them."""
    lock = (HERE / "package-lock.json").read_bytes()
    root = cache_root() / f"browser-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not (root / "www" / "jssip.min.js").exists():
        tmp = Path(f"{root}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(HERE / name, tmp / name)
        p = subprocess.run(["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=tmp,
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            out = p.stdout + p.stderr
            why = [line for line in out.splitlines() if any(e in line for e in NETWORK_ERRORS)]
            if why:
                pytest.skip(f"npm ci cannot reach its registry: {why[0].strip()}")
            pytest.fail(f"npm ci failed:\n{out}")
        (tmp / "www").mkdir()
        subprocess.run([str(tmp / "node_modules/.bin/esbuild"), "node_modules/jssip/lib/JsSIP.js", "--bundle",
                        "--format=iife", "--global-name=JsSIP", "--platform=browser", "--minify",
                        "--log-level=warning", "--outfile=www/jssip.min.js"], cwd=tmp, check=True, timeout=120)
        try:
            tmp.rename(root)
        except OSError:   # another run made it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    for name in ("phone.html", "driver.js"):   # always this checkout's versions
        target = root / ("www" if name.endswith(".html") else "") / name
        shutil.copy(HERE / name, target)
    return root


class Browser:
    """driver.js: one Chromium, commands as JSON lines."""

    def __init__(self, root: Path, args: list[str]):
        env = {**os.environ, "CHROMIUM": CHROMIUM, "BROWSER_ARGS": json.dumps(args)}
        self.proc = subprocess.Popen(["node", str(root / "driver.js")], cwd=root, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.n = 0
        self.version = self._answer(0, 30)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _answer(self, want: int, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"browser driver: no answer to command {want} in {timeout}s") from None
            if line is None:
                raise RuntimeError(f"browser driver ended: {self.proc.stderr.read()}")
            reply = json.loads(line)
            if reply["id"] != want:
                continue
            if not reply["ok"]:
                raise RuntimeError(reply["error"])
            return reply.get("value")

    def cmd(self, op: str, timeout: float = 15, **kw):
        self.n += 1
        self.proc.stdin.write(json.dumps({"id": self.n, "op": op, **kw}) + "\n")
        self.proc.stdin.flush()
        return self._answer(self.n, timeout)

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, 9)   # the driver's own session: node and its Chromium
            self.proc.wait()


class Phone:
    """One tab running phone.html."""

    def __init__(self, browser: Browser, url: str):
        self.b = browser
        self.page = browser.cmd("open", url=url)

    def js(self, expr: str):
        return self.b.cmd("eval", page=self.page, expr=expr)

    def events(self) -> list[str]:
        return self.js("window.events")

    def wait_event(self, pattern: str, timeout: float = 10.0) -> str:
        """The first event matching the regular expression (JavaScript syntax)."""
        expr = f"window.events.find(e => /{pattern}/.test(e)) || false"
        try:
            return self.b.cmd("wait", timeout=timeout + 5, page=self.page, expr=expr, timeout_ms=int(timeout * 1000))
        except RuntimeError as e:
            raise AssertionError(f"no {pattern!r} in {self.events()} ({e})") from None

    def close(self):
        try:
            self.js("window.stop()")
        finally:
            self.b.cmd("close", page=self.page)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    trustme = pytest.importorskip("trustme")
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    d = tmp_path_factory.mktemp("browser-pki")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(d / "server.pem"))
    leaf = x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes())
    spki = leaf.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    (d / "tls.cfg").write_text(f"[server:default]\nmethod = TLSv1.2+\ncertificate = {d / 'server.pem'}\n"
                               f"private_key = {d / 'server.pem'}\n\n[client:default]\nverify_certificate = no\n")
    # Chromium accepts this one certificate by its key, nothing else
    return d, base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def browser(tools, pki):
    _, spki = pki
    b = Browser(tools, [f"--ignore-certificate-errors-spki-list={spki}"])
    yield b
    b.close()


@pytest.fixture(scope="module")
def server(pki):
    d, _ = pki
    ws_port, wss_port, tls_port = (free_port_block(1) for _ in range(3))
    text = (REPO / "etc" / "kamapy.cfg").read_text()
    text = text.replace("listen=udp:127.0.0.1:5060", "listen=udp:127.0.0.1:{port}")
    text = text.replace("listen=tls:127.0.0.1:5061", f"listen=tls:127.0.0.1:{tls_port}")
    args = ["-A", "WITH_WEBSOCKETS", "-A", "WITH_TLS", "-A", f'TLSCFG="{d / "tls.cfg"}"',
            "-A", f"WS_PORT={ws_port}", "-A", f"WSS_PORT={wss_port}"]
    with KamapyServer(text, children=2, args=args) as s:
        s.ws = f"ws://127.0.0.1:{ws_port}"
        s.wss = f"wss://127.0.0.1:{wss_port}"
        s.ws_port, s.wss_port = ws_port, wss_port
        yield s


def phone(browser, tools, server, user: str, ws: str) -> Phone:
    p = Phone(browser, (tools / "www" / "phone.html").as_uri())
    p.js(f"window.start({json.dumps({'ws': ws, 'uri': f'sip:{user}@127.0.0.1:{server.port}'})})")
    return p


def register_udp(server, user: str, port: int):
    """A REGISTER for a SIPp UAS at 127.0.0.1:port (SIPp itself does not register)."""
    with SipClient(("127.0.0.1", server.port)) as c:
        n = time.time_ns()
        aor = f"sip:{user}@127.0.0.1:{server.port}"
        reply = c.request((f"REGISTER sip:127.0.0.1:{server.port} SIP/2.0\r\n"
                           f"Via: SIP/2.0/UDP 127.0.0.1:{c.port};branch=z9hG4bK-r{n};rport\r\n"
                           f"Max-Forwards: 70\r\nFrom: <{aor}>;tag=r{n}\r\nTo: <{aor}>\r\n"
                           f"Call-ID: reg{n}\r\nCSeq: 1 REGISTER\r\nContact: <sip:{user}@127.0.0.1:{port}>\r\n"
                           f"Expires: 120\r\nContent-Length: 0\r\n\r\n").encode())
    assert status_of(reply) == 200, reply


def test_browser_calls_sipp_over_ws(browser, tools, server):
    alice = phone(browser, tools, server, "alice", server.ws)
    try:
        assert alice.wait_event("^registered") == "registered:200"
        (uas_port,) = free_udp_ports(1)
        register_udp(server, "uas", uas_port)
        uas = SippRun(str(HERE / "uas_webrtc.xml"), f"127.0.0.1:{server.port}", "-m", "1", "-t", "u1",
                      "-trace_msg", "-message_file", "messages.log", local_port=uas_port).start()
        try:
            time.sleep(0.3)   # SIPp bound its port
            alice.js(f"window.call('sip:uas@127.0.0.1:{server.port}')")
            assert alice.wait_event("^(confirmed|failed|ended)") == "confirmed", alice.events()
            assert "progress:180" in alice.events()
            alice.js("window.hangup()")
            alice.wait_event("^ended")
            assert uas.wait(10) == 0, (Path(uas.dir, "err.log").read_text(errors="replace"), server.log()[-3000:])
        finally:
            uas.kill()
        stats = uas.stats()
        assert stats["SuccessfulCall(C)"] == "1", stats
        # what reached SIPp through kamapy: the INVITE came in on the WebSocket (the
        # browser's Via), left on UDP with a double Record-Route (ws and udp sides),
        # and the ACK and BYE followed that route
        trace = Path(uas.dir, "messages.log").read_text(errors="replace")
        invite = trace[trace.index("INVITE sip:uas@"):]
        invite = invite[:invite.index("\n\n")]
        assert re.search(r"^Via: SIP/2\.0/WS [^\n]*\.invalid;", invite, re.M | re.I), invite
        rr = re.findall(r"^Record-Route: (.*)$", invite, re.M)
        assert len(rr) == 2 and "transport=ws" in rr[1] and "transport=ws" not in rr[0], invite
        assert re.search(r"^ACK sip:uas@", trace, re.M) and re.search(r"^BYE sip:uas@", trace, re.M), trace
        assert [e for e in alice.events() if e.startswith("ended")] == ["ended:local:Terminated"]
    finally:
        alice.close()


def test_sipp_calls_browser_over_wss(browser, tools, server):
    bob = phone(browser, tools, server, "bob", server.wss)
    try:
        assert bob.wait_event("^registered") == "registered:200"
        uac = SippRun(str(HERE / "uac_webrtc.xml"), f"127.0.0.1:{server.port}", "-m", "1", "-t", "u1",
                      "-s", "bob").start()
        try:
            assert bob.wait_event("^incoming") == "incoming:sipp"
            # confirmed = the ACK reached the browser (Contact alias -> the wss connection)
            assert bob.wait_event("^(confirmed|failed)") == "confirmed", bob.events()
            assert bob.wait_event("^ended") == "ended:remote:Terminated"   # SIPp's BYE
            assert uac.wait(10) == 0, (Path(uac.dir, "err.log").read_text(errors="replace"), server.log()[-3000:])
        finally:
            uac.kill()
        assert uac.stats()["SuccessfulCall(C)"] == "1"
    finally:
        bob.close()


def test_browser_to_browser_ws_and_wss(browser, tools, server):
    carol = phone(browser, tools, server, "carol", server.ws)
    dave = phone(browser, tools, server, "dave", server.wss)
    try:
        assert carol.wait_event("^registered") == "registered:200"
        assert dave.wait_event("^registered") == "registered:200"
        carol.js(f"window.call('sip:dave@127.0.0.1:{server.port}')")
        assert dave.wait_event("^incoming") == "incoming:carol"
        assert carol.wait_event("^(confirmed|failed|ended)") == "confirmed", carol.events()
        assert dave.wait_event("^(confirmed|failed|ended)") == "confirmed", dave.events()
        # media between the tabs: ICE over loopback
        for p in (carol, dave):
            state = p.b.cmd("wait", timeout=15, page=p.page, timeout_ms=10000,
                            expr="['connected', 'completed'].includes(window.iceState()) && window.iceState()")
            assert state in ("connected", "completed")
        carol.js("window.hangup()")
        assert dave.wait_event("^ended") == "ended:remote:Terminated", dave.events()
        assert carol.wait_event("^ended") == "ended:local:Terminated"
    finally:
        carol.close()
        dave.close()
    log = server.log()
    assert "Traceback" not in log and not re.search(r"\bERROR\b", log), log[-3000:]
