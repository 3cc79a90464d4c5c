"""Write the 50 messages of tests/wire/test_torture.py as differential cases
(cases/receive/torture-NN-<what>.toml), once; the cases are then edited by hand.

    .venv/bin/python -m tests.differential.tools.torture_to_cases [--dropped N,N,...]

--dropped names the messages Kamailio drops: their expect step waits for none.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.wire.test_torture import torture_messages

OUT = Path(__file__).resolve().parents[1] / "cases" / "receive"

WHAT = [
    "sip-version-7", "ruri-in-angle-brackets", "space-in-ruri", "double-spaces-in-request-line",
    "trailing-space-after-version", "request-line-without-version", "lone-method",
    "request-line-without-method", "nul-in-method", "unbalanced-ipv6-ruri", "ruri-port-overflow",
    "bad-escape-in-ruri", "status-code-over-2-32", "two-digit-status", "status-without-code",
    "via-without-sent-by", "via-port-not-a-number", "via-port-over-65535", "via-without-transport",
    "via-unbalanced-ipv6", "via-empty-params-and-bad-rport", "no-via", "via-only-commas",
    "from-unclosed-quote", "to-empty-tag-and-junk", "from-space-in-host", "from-unquoted-comma-display",
    "no-to", "no-from", "to-unclosed-angle", "no-call-id", "cseq-without-method", "cseq-word-number",
    "cseq-over-2-64", "cseq-method-mismatch", "max-forwards-300", "max-forwards-negative", "no-cseq",
    "content-length-too-big", "content-length-negative", "content-length-word", "no-empty-line",
    "body-longer-than-content-length", "header-without-colon", "folded-line-first",
    "header-empty-name", "space-in-header-name", "header-20000-bytes", "binary-noise",
    "non-ascii-first-bytes",
]


def toml_string(text: str) -> str:
    """A TOML multi-line basic string holding text (CRLF written as newlines)."""
    raw = "\r\n" not in text or text.replace("\r\n", "") .count("\n") or "\r" in text.replace("\r\n", "")
    body = text if raw else text.replace("\r\n", "\n")
    out = []
    for ch in body:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n" and not raw:
            out.append("\n")
        elif o < 0x20 or o == 0x7f or o > 0x7e:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    return ("raw = true\n" if raw else "") + 'send = """\n' + "".join(out) + '"""\n'


def main(argv):
    dropped = set()
    if argv[:1] == ["--dropped"]:
        dropped = {int(x) for x in argv[1].split(",") if x}
    OUT.mkdir(parents=True, exist_ok=True)
    for n, m in enumerate(torture_messages()):
        cid = f"torture-{n:02d}-{WHAT[n]}"
        m = (m.replace("127.0.0.1:{lport}", "{caller}").replace("z9hG4bK{n}torture", "z9hG4bK-{case}")
             .replace("torture{n}@127.0.0.1", "{case}@127.0.0.1"))
        expect = 'expect = "caller"\n' + ("count = 0\n" if n in dropped else "")
        text = (f'config = "receive"\nsummary = "test_torture.py message {n}: {WHAT[n].replace("-", " ")}"\n'
                f'actors = ["caller"]\n\n[[step]]\n{toml_string(m)}\n[[step]]\n{expect}')
        (OUT / f"{cid}.toml").write_text(text)


if __name__ == "__main__":
    main(sys.argv[1:])
