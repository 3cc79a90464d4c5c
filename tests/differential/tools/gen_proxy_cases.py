"""Wrote tests/differential/cases/proxy/flow-*.toml: ordinary flows through the
registrar + stateful proxy config (registrar.cfg), built from a few message blocks.
Every target is an actor on 127.0.0.1 (a contact registered with the actor's address)."""
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "cases" / "proxy"

SDP = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n"


def send(text, frm="caller"):
    return f'[[step]]\nsend = """\n{text}"""\nfrom = "{frm}"\n\n'


def expect(who, count=1):
    return f'[[step]]\nexpect = "{who}"\n' + (f"count = {count}\n" if count != 1 else "") + "\n"


def reply(code, frm="callee", body=None, method=None, to_tag=None, headers=None):
    out = f"[[step]]\nreply = {code}\nfrom = \"{frm}\"\n"
    if body:
        out += f'body = "{body}"\n'
    if method:
        out += f'method = "{method}"\n'
    if to_tag:
        out += f'to_tag = "{to_tag}"\n'
    if headers:
        out += f'headers = """\n{headers}"""\n'
    return out + "\n"


def register(user="bob", who="callee", n=1, expires=600, contact=None):
    contact = contact or f"<sip:{user}@{{{who}}}>"
    return send(f"""REGISTER sip:{{server}} SIP/2.0
Via: SIP/2.0/UDP {{{who}}};branch=z9hG4bK-{{case}}-reg-{who}-{n};rport
Max-Forwards: 70
From: <sip:{user}-{{case}}@127.0.0.1>;tag=r-{who}-{{case}}
To: <sip:{user}-{{case}}@127.0.0.1>
Call-ID: reg-{who}-{{case}}
CSeq: {n} REGISTER
Contact: {contact}
Expires: {expires}
Content-Length: 0

""", who) + expect(who)


def request(method, user="bob", cseq=1, branch="inv", body=None, extra="", ruri=None, totag=None,
            route=False, mf=70, callid="call-{case}", frm="caller"):
    ruri = ruri or f"sip:{user}-{{case}}@{{server}}"
    to = f"<sip:{user}-{{case}}@127.0.0.1>" + (f";tag={totag}" if totag else "")
    lines = [f"{method} {ruri} SIP/2.0",
             f"Via: SIP/2.0/UDP {{{frm}}};branch=z9hG4bK-{{case}}-{branch};rport",
             f"Max-Forwards: {mf}"]
    if route:
        lines.append("{route}From: \"Alice\" <sip:alice@127.0.0.1>;tag=a-{case}")
    else:
        lines.append("From: \"Alice\" <sip:alice@127.0.0.1>;tag=a-{case}")
    lines += [f"To: {to}", f"Call-ID: {callid}", f"CSeq: {cseq} {method}"]
    if method in ("INVITE", "SUBSCRIBE"):
        lines.append(f"Contact: <sip:alice@{{{frm}}}>")
    if extra:
        lines += extra.rstrip("\n").split("\n")
    if body is not None:
        lines += ["Content-Type: application/sdp" if body == SDP else "Content-Type: text/plain",
                  "Content-Length: {len}", "", body.rstrip("\n")]
        return send("\n".join(lines) + "\n", frm)
    lines += ["Content-Length: 0", "", ""]
    return send("\n".join(lines), frm)


def in_dialog(method, cseq, branch, body=None, extra=""):
    return request(method, cseq=cseq, branch=branch, ruri="sip:bob@{callee}", totag="{to_tag}",
                   route=True, body=body, extra=extra)


def invite(**kw):
    return request("INVITE", body=SDP, **kw)


def established():
    return (register() + invite() + expect("callee") + expect("caller") + reply(200, body="sdp")
            + expect("caller") + in_dialog("ACK", 1, "ack") + expect("callee"))


FLOWS = {
    "flow-options-relayed": ("OPTIONS to a registered user relayed statefully, its 200 back",
                             register() + request("OPTIONS", branch="opt") + expect("callee")
                             + reply(200) + expect("caller")),
    "flow-reinvite": ("a re-INVITE in an established call follows the route set",
                      established() + in_dialog("INVITE", 2, "reinv", body=SDP) + expect("callee")
                      + expect("caller") + reply(200, body="sdp") + expect("caller")
                      + in_dialog("ACK", 2, "ack2") + expect("callee")),
    "flow-info": ("INFO in an established call, and its 200",
                  established() + in_dialog("INFO", 2, "info", body="Signal=5\n") + expect("callee")
                  + reply(200) + expect("caller")),
    "flow-update-early": ("183 with SDP relayed, then the call answered",
                          register() + invite() + expect("callee") + expect("caller")
                          + reply(183, body="sdp") + expect("caller") + reply(200, body="sdp")
                          + expect("caller")),
    "flow-100-not-relayed": ("a 100 from the callee stops at the proxy, the 180 goes on",
                             register() + invite() + expect("callee") + expect("caller")
                             + reply(100) + reply(180) + expect("caller")),
    "flow-200-retransmitted": ("a retransmitted 200 is relayed again (2xx go end to end)",
                               register() + invite() + expect("callee") + expect("caller")
                               + reply(200, body="sdp") + expect("caller") + reply(200, body="sdp")
                               + expect("caller")),
    "flow-invite-retransmitted": ("a retransmitted INVITE is absorbed: the transaction answers 100",
                                  register() + invite() + expect("callee") + expect("caller")
                                  + invite() + expect("caller") + expect("callee", 0)),
    "flow-subscribe-notify": ("SUBSCRIBE record-routed, 200, then the NOTIFY from the callee follows the route",
                              register()
                              + request("SUBSCRIBE", branch="sub", extra="Event: presence\nExpires: 60")
                              + expect("callee") + reply(200, headers="Expires: 60\n") + expect("caller")
                              + send("""NOTIFY sip:alice@{caller} SIP/2.0
Via: SIP/2.0/UDP {callee};branch=z9hG4bK-{case}-notify;rport
Max-Forwards: 70
{route}From: <sip:bob-{case}@127.0.0.1>;tag=callee-tag
To: "Alice" <sip:alice@127.0.0.1>;tag=a-{case}
Call-ID: call-{case}
CSeq: 1 NOTIFY
Event: presence
Subscription-State: active;expires=60
Content-Length: 0

""", "callee") + expect("caller") + reply(200, frm="caller") + expect("callee")),
    "flow-mf-1": ("Max-Forwards 1: decremented to 0 and relayed",
                  register() + invite(mf=1) + expect("callee") + expect("caller")),
    "flow-mf-0": ("Max-Forwards 0: 483 from sl, nothing relayed",
                  register() + invite(mf=0) + expect("caller") + expect("callee", 0)),
    "flow-mf-over-limit": ("Max-Forwards 50 is lowered to the limit 10 and decremented",
                           register() + invite(mf=50) + expect("callee") + expect("caller")),
    "flow-in-dialog-no-route": ("an in-dialog request without a Route: loose_route fails, 404",
                                request("BYE", totag="x1", branch="bye") + expect("caller")),
    "flow-cancel-unknown": ("a CANCEL for no transaction: t_check_trans is false, nothing sent",
                            request("CANCEL", branch="nocancel") + expect("caller", 0)),
    "flow-message-not-registered": ("MESSAGE to an unknown user: 404",
                                    request("MESSAGE", user="nobody", branch="msg", body="hi\n")
                                    + expect("caller")),
    "flow-unregistered-then-invite": ("a binding removed with Expires 0, then INVITE: 404",
                                      register() + register(n=2, expires=0) + invite() + expect("caller")
                                      + expect("callee", 0)),
    "flow-fork-two-contacts": ("two contacts: the INVITE forks to both; the second answers 200 and the first is CANCELled",
                               register() + register(who="callee2") + invite() + expect("callee")
                               + expect("callee2") + expect("caller") + reply(180) + expect("caller")
                               + reply(200, frm="callee2", body="sdp") + expect("caller") + expect("callee")),
    "flow-fork-both-busy": ("two contacts both answer 486: one 486 to the caller, each branch ACKed",
                            register() + register(who="callee2") + invite() + expect("callee")
                            + expect("callee2") + expect("caller") + reply(486) + expect("callee")
                            + reply(486, frm="callee2") + expect("callee2") + expect("caller")),
    "flow-fork-busy-and-decline": ("486 on one branch, 603 on the other: the 6xx wins",
                                   register() + register(who="callee2") + invite() + expect("callee")
                                   + expect("callee2") + expect("caller") + reply(603, frm="callee2")
                                   + expect("callee2") + expect("callee") + reply(486) + expect("caller")),
    "flow-compact-headers": ("an INVITE in compact form relayed as it came",
                             register() + send("""INVITE sip:bob-{case}@{server} SIP/2.0
v: SIP/2.0/UDP {caller};branch=z9hG4bK-{case}-inv;rport
Max-Forwards: 70
f: <sip:alice@127.0.0.1>;tag=a-{case}
t: <sip:bob-{case}@127.0.0.1>
i: call-{case}
CSeq: 1 INVITE
m: <sip:alice@{caller}>
l: 0

""") + expect("callee") + expect("caller") + reply(180) + expect("caller")),
    "flow-many-headers": ("unknown headers, a multi-value Via and odd spacing relayed byte for byte",
                          register() + send("""INVITE sip:bob-{case}@{server} SIP/2.0
Via: SIP/2.0/UDP {caller};branch=z9hG4bK-{case}-inv;rport
Max-Forwards: 70
From:   "A B"   <sip:alice@127.0.0.1>  ;tag=a-{case}
To:<sip:bob-{case}@127.0.0.1>
Call-ID: call-{case}
CSeq:   1   INVITE
X-Custom: one
X-Custom: two, three
Subject: hello world
Supported: timer, 100rel
Allow: INVITE, ACK, BYE, CANCEL
Contact: <sip:alice@{caller}>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>"
Content-Length: 0

""") + expect("callee") + expect("caller")),
}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (summary, steps) in FLOWS.items():
        actors = ["caller", "callee", "callee2"] if "callee2" in steps else ["caller", "callee"]
        (OUT / f"{name}.toml").write_text(
            f'config = "registrar"\nsummary = "{summary}"\nactors = {actors!r}\n\n{steps}'.replace("'", '"'))


if __name__ == "__main__":
    main()
