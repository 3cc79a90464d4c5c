"""Wrote tests/differential/cases/registrar/*.toml from the REGISTER sequences of the former
tests/wire/test_registrar_vs_kamailio.py: case reg-<user>-<k> replays the first k
REGISTERs of that user's sequence (each case with its own AOR, named after the case)."""
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "cases" / "registrar"

# user -> [(call-id, cseq, Contact lines, other lines, what the step checks)]
SEQUENCES = {
    "alice": [
        ("c1", 1, ["<sip:alice@10.0.0.1:5060>"], ["Expires: 600"], "a new binding"),
        ("c1", 2, ["<sip:alice@10.0.0.1:5060>"], ["Expires: 300"], "a refresh with a new expires"),
        ("c2", 1, ["<sip:alice@10.0.0.2:5060>;q=0.5;expires=120"], [], "a second contact with q and expires"),
        ("c3", 1, [], [], "a fetch lists both bindings"),
        ("c4", 1, ["<sip:alice@10.0.0.3>"], ["Expires: 10"], "under min_expires: 423 with Min-Expires"),
        ("c1", 1, ["<sip:alice@10.0.0.1:5060>"], ["Expires: 600"], "an out-of-order CSeq"),
        ("c1", 3, ["*"], ["Expires: 100"], "'*' with a non-zero Expires: 400"),
        ("c1", 5, ["*"], ["Expires: 0"], "'*' with Expires 0 removes every binding"),
        ("c5", 1, [], [], "a fetch after the removal"),
    ],
    "bob": [
        ("cb", 1, ["<sip:b1@10.0.1.1>", "<sip:b2@10.0.1.2>", "<sip:b3@10.0.1.3>", "<sip:b4@10.0.1.4>"],
         ["Expires: 600"], "four contacts over max_contacts 3"),
        ("cb", 2, ["<sip:b1@10.0.1.1>", "<sip:b2@10.0.1.2>"], ["Expires: 600"], "two contacts"),
        ("cb", 3, ["<sip:b3@10.0.1.3>", "<sip:b4@10.0.1.4>"], ["Expires: 600"], "two more: over the limit"),
    ],
    "carol": [
        ("cc", 1, ["<sip:carol@10.0.0.9>;expires=90"], ["Expires: 900"], "the expires param wins over the header"),
        ("cc", 2, ["<sip:carol@10.0.0.9>;expires=0", "<sip:carol@10.0.0.8>"], ["Expires: 700"],
         "one contact removed, one added"),
    ],
    "dave": [
        ("cd", 1, ["<sip:dave@10.0.0.10>"], ["Expires: 99999"], "clamped to max_expires"),
    ],
    "erin": [
        ("ce", 1, ['"Erin" <sip:erin@10.0.0.11;transport=udp>;+sip.instance="<urn:uuid:1>";reg-id=1'],
         ["Expires: 600"], "a display name, +sip.instance and reg-id"),
        ("ce", 2, ["<sip:erin@10.0.0.11;transport=udp>;expires=abc"], [], "a bad expires param"),
    ],
}

# user -> (REGISTERs before the lookup, what it checks)
LOOKUPS = {
    "frank": ([], "lookup of an unknown user: -1"),
    "gina": ([("g1", 1, ["<sip:gina@10.0.2.1:5060>;q=0.3", "<sip:gina@10.0.2.2;transport=udp>;q=0.9"],
               ["Expires: 600"])], "two contacts: the R-URI and a branch in q order"),
    "hal": ([("h1", 1, ["<sip:hal@10.0.2.3>"], ["Expires: 600"]),
             ("h2", 1, ["<sip:hal@10.0.2.4>"], ["Expires: 600"])], "two Call-IDs, equal q: the newest first"),
    "ivy": ([("i1", 1, ["<sip:ivy@10.0.2.5>"], ["Expires: 600"]), ("i1", 2, ["*"], ["Expires: 0"])],
            "registered then removed: -1"),
}


def register(user, callid, cseq, contacts, extra):
    lines = ["REGISTER sip:{server} SIP/2.0",
             f"Via: SIP/2.0/UDP {{caller}};branch=z9hG4bK-{{case}}-{callid}-{cseq};rport",
             "Max-Forwards: 70",
             f"From: <sip:{user}-{{case}}@127.0.0.1>;tag=f-{{case}}",
             f"To: <sip:{user}-{{case}}@127.0.0.1>",
             f"Call-ID: {callid}-{{case}}",
             f"CSeq: {cseq} REGISTER"]
    lines += [f"Contact: {c.replace(user + '@', user + '-{case}@')}" for c in contacts]
    lines += extra + ["Content-Length: 0", "", ""]
    return "\n".join(lines)


def write(name, summary, sends):
    body = f'config = "registrar"\nsummary = "{summary}"\nactors = ["caller"]\n'
    for msg in sends:
        body += f'\n[[step]]\nsend = """\n{msg}"""\n\n[[step]]\nexpect = "caller"\n'
    (OUT / f"{name}.toml").write_text(body)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for user, steps in SEQUENCES.items():
        for k in range(1, len(steps) + 1):
            write(f"reg-{user}-{k}", steps[k - 1][4].replace('"', "'"),
                  [register(user, *s[:4]) for s in steps[:k]])
    for user, (regs, summary) in LOOKUPS.items():
        sends = [register(user, *r) for r in regs]
        sends.append("\n".join([
            f"INVITE sip:where-{user}-{{case}}@{{server}} SIP/2.0",
            "Via: SIP/2.0/UDP {caller};branch=z9hG4bK-{case}-inv;rport",
            "Max-Forwards: 70", "From: <sip:caller@127.0.0.1>;tag=f-{case}",
            f"To: <sip:where-{user}-{{case}}@127.0.0.1>", "Call-ID: inv-{case}", "CSeq: 1 INVITE",
            "Content-Length: 0", "", ""]))
        write(f"lookup-{user}", summary, sends)


if __name__ == "__main__":
    main()
