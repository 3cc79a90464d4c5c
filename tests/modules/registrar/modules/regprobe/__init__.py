"""regprobe: a test module that shows the routing state over the wire.

probe_reply(code, reason)  reply with X-Ru, X-Du, X-Path, X-Rc and one X-Branch per
                           extra branch ("uri dst q"), so a test sees what lookup() did
probe_write(file, text)    append a line to a file (event routes have no reply)
"""

from kamapy.module import ANY_ROUTE, Arg, Function, ModuleExports


def probe_reply(msg, code, reason):
    from kamapy_modules import sl

    rc = msg.ctx.last_rc if msg.ctx is not None else 0
    lines = [f"X-Ru: {msg.current_uri}\r\n", f"X-Du: {msg.dst_uri or ''}\r\n",
             f"X-Path: {msg.path_vec or ''}\r\n", f"X-Rc: {rc}\r\n"]
    for b in msg.branches:
        lines.append(f"X-Branch: {b.uri} {b.dst_uri or ''} {b.q}\r\n")
    if msg.reply_lumps is None:
        msg.reply_lumps = []
    msg.reply_lumps.extend(lines)
    return sl.w_send_reply(msg, int(code), reason)


def probe_write(msg, path, text):
    with open(path, "a") as f:
        f.write(text + "\n")
    return 1


exports = ModuleExports(
    name="regprobe",
    functions=[
        Function("probe_reply", probe_reply, (Arg("igp"), Arg("spve"))),
        Function("probe_write", probe_write, (Arg("str"), Arg("spve")), ANY_ROUTE),
    ],
)
