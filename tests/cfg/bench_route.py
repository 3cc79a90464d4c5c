"""Interpreter overhead per message of a small request_route (run: python tests/cfg/bench_route.py).

The module functions are dummies returning 1, so what is measured is the compiled
script itself: statement dispatch, conditions, argument passing, return codes.
"""

import time

from kamapy.cfg import DictRegistry, compile_routes, parse_text
from kamapy.cfg.run_context import RunContext
from kamapy.module import Arg, Function
from kamapy.sip.msg import RecvInfo, SipMsg

CFG = """
request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (is_method("OPTIONS")) {
        sl_send_reply("200", "Keepalive");
        exit;
    }
    if (is_method("INVITE|SUBSCRIBE")) setflag(1);
    if ($rU == "100") route(LOCAL);
    sl_send_reply("404", "Not here");
}
route[LOCAL] { return 1; }
"""

MSG = (b"INVITE sip:200@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK1\r\n"
       b"From: <sip:a@b>;tag=1\r\nTo: <sip:200@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
       b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


def ret1(msg, *args):
    return 1


def is_method(msg, methods):
    return 1 if msg.method in methods else -1


def main(n=200_000):
    reg = DictRegistry([
        Function("mf_process_maxfwd_header", ret1, (Arg("int"),)),
        Function("sl_send_reply", ret1, (Arg("igp"), Arg("spve"))),
        Function("is_method", is_method, (Arg("str"),)),
        Function("setflag", ret1, (Arg("int"),)),
    ])
    routes = compile_routes(parse_text(CFG), reg)
    route = routes.request
    msg = SipMsg(MSG, RecvInfo())
    # warm: $rU parsed and cached once
    ctx = RunContext(1)
    msg.ctx = ctx
    route(msg, ctx)

    t = time.perf_counter()
    for _ in range(n):
        ctx = RunContext(1)
        msg.ctx = ctx
        route(msg, ctx)
    total = (time.perf_counter() - t) / n * 1e6

    # the same work with no interpreter: the handler calls and the $rU read a script must make
    pv_ru = __import__("kamapy.pv", fromlist=["parse_pv"]).parse_pv("$rU")
    t = time.perf_counter()
    for _ in range(n):
        ctx = RunContext(1)
        msg.ctx = ctx
        ret1(msg, 10)
        is_method(msg, "OPTIONS")
        is_method(msg, "INVITE|SUBSCRIBE")
        ret1(msg, 1)
        pv_ru.get(msg)
        ret1(msg, 404, "Not here")
    base = (time.perf_counter() - t) / n * 1e6
    print(f"route run: {total:.2f} us/msg; handlers+PV alone: {base:.2f} us; "
          f"interpreter overhead: {total - base:.2f} us")
    return total - base


if __name__ == "__main__":
    main()
