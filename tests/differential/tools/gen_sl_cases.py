"""Wrote tests/differential/cases/sl/*.toml from the former tests/wire/test_sl_vs_kamailio.py
table (kept to show how a table of requests becomes cases; run again only to regenerate)."""
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "cases" / "sl"
VIA = "SIP/2.0/UDP {caller};branch=z9hG4bK-{case}"
CASES = {
    "rport": ("200", [f"Via: {VIA};rport"], [], "a Via with rport: rport=<port> and received filled in"),
    "no-rport": ("200", [f"Via: {VIA}"], [], "a Via without rport: no received for 127.0.0.1"),
    "rport-value": ("200", [f"Via: {VIA};rport=1234;received=10.9.9.9"], [], "rport and received already set"),
    "host-name": ("200", ["Via: SIP/2.0/UDP client.example.com:{caller_port};branch=z9hG4bK-{case};rport"], [],
                  "a Via host that is a name gets received="),
    "two-in-one-line": ("200", [f"Via: {VIA};rport, SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bK-x"], [],
                        "two Vias in one header line, both copied"),
    "two-lines": ("200", [f"Via: {VIA};rport", "Via: SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bK-x"], [],
                  "two Via lines"),
    "compact": ("200", [f"v: {VIA};rport"], ["compact"], "compact header names copied as they are"),
    "rr-on-180": ("180", [f"Via: {VIA};rport"], ["rr"], "Record-Route copied into a 180"),
    "rr-on-200": ("200", [f"Via: {VIA};rport"], ["rr"], "Record-Route copied into a 200"),
    "rr-on-404": ("404", [f"Via: {VIA};rport"], ["rr"], "Record-Route not copied into a 404"),
    "to-tagged": ("200", [f"Via: {VIA};rport"], ["totag"], "a To that has a tag keeps it"),
    "force": ("force", [f"Via: {VIA}"], [], "force_rport() adds rport to the reply's Via"),
    "max-forwards-0": ("200", [f"Via: {VIA};rport"], ["mf0"], "Max-Forwards 0: 483"),
    "spaces": ("200", ["Via:   SIP/2.0/UDP   {caller} ;branch=z9hG4bK-{case} ;rport  "], [],
               "odd spacing in the Via"),
    "rport-then-param": ("200", [f"Via: {VIA};rport;x=y"], [], "rport followed by another param"),
    "param-after-branch": ("200", ["Via: SIP/2.0/UDP client.example.com:{caller_port};branch=z9hG4bK-{case};x=y"],
                           [], "received appended after a param that follows the branch"),
    "force-two-in-one-line": ("force", [f"Via: {VIA};x=y, SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bK-x"], [],
                              "force_rport() with two Vias in one line"),
    "code-100": ("100", [f"Via: {VIA};rport"], [], "sl sends a 100 (no To-tag)"),
    "code-603": ("603", [f"Via: {VIA};rport"], [], "a 603"),
    "echo": ("echo", [f"Via: {VIA};rport"], [], "PVs of the request echoed into the reply"),
    "reply-error": ("error", [f"Via: {VIA};rport"], [], "sl_reply_error() with no error set"),
    "mf-missing": ("200", [f"Via: {VIA};rport"], ["nomf"], "no Max-Forwards: mf_process_maxfwd_header adds none to a reply"),
    "mf-11": ("200", [f"Via: {VIA};rport"], ["mf11"], "Max-Forwards above the limit"),
}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (user, vias, opts, summary) in CASES.items():
        lines = [f"OPTIONS sip:{user}@{{server}} SIP/2.0", *vias]
        if "rr" in opts:
            lines += ["Record-Route: <sip:10.0.0.5;lr>", "Record-Route: <sip:10.0.0.6;lr;ftag=x>"]
        if "nomf" not in opts:
            lines.append("Max-Forwards: " + ("0" if "mf0" in opts else "11" if "mf11" in opts else "70"))
        to_tag = ";tag=already" if "totag" in opts else ""
        if "compact" in opts:
            lines += ["f: <sip:a@127.0.0.1>;tag=f-{case}", f"t: <sip:{user}@127.0.0.1>{to_tag}",
                      "i: {case}@127.0.0.1", "CSeq: 1 OPTIONS"]
        else:
            lines += ["From: <sip:a@127.0.0.1>;tag=f-{case}", f"To: <sip:{user}@127.0.0.1>{to_tag}",
                      "Call-ID: {case}@127.0.0.1", "CSeq: 1 OPTIONS"]
        lines += ["Content-Length: 0", "", ""]
        msg = "\n".join(lines)
        (OUT / f"sl-{name}.toml").write_text(
            f'config = "stateless"\nsummary = "{summary}"\nactors = ["caller"]\n\n'
            f'[[step]]\nsend = """\n{msg}"""\n\n[[step]]\nexpect = "caller"\n')


if __name__ == "__main__":
    main()
