"""Body functions (Kamailio textops): has_body, set_body, set_reply_body,
is_audio_on_hold."""

from __future__ import annotations

from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import append_header, del_lump, replace_body

from .headers import append_to_reply


def has_body(msg, mime: str | None = None) -> int:
    try:
        body = msg.body
        if not body:
            return -1
        if mime:
            ct = msg.content_type
            if ct is None:
                return 1 if mime.lower() == "application/sdp" else -1
            if ct.mime == mime.lower():
                return 1
            if ct.type == "multipart":
                return 1 if f"content-type: {mime.lower()}" in body.lower() else -1
            return -1
    except SipParseError:
        return -1
    return 1


def set_body(msg, text: str, content_type: str) -> int:
    if not content_type:
        return -1
    _ = msg.body
    for hf in msg.get_headers("content-type"):
        del_lump(msg, hf.start, hf.end - hf.start, "textops")
    append_header(msg, f"Content-Type: {content_type}", "content-type")
    if msg.body_start < len(msg.text):
        replace_body(msg, text)
    else:
        from kamapy.sip.lumps import insert_body
        insert_body(msg, 0, text)
    return 1


def set_reply_body(msg, text: str, content_type: str) -> int:
    if not content_type:
        return -1
    append_to_reply(msg, f"Content-Type: {content_type}")
    msg.reply_body = text
    return 1


RFC2543_HOLD = 1
RFC3264_HOLD = 2


def is_audio_on_hold(msg) -> int:
    """The hold type of the first audio stream on hold: 1 (c=0.0.0.0), 2 (sendonly /
    inactive); -1 none."""
    try:
        sdp = msg.sdp
    except SipParseError:
        return -1
    if sdp is None:
        return -1
    body = msg.body.replace("\r\n", "\n").split("\n")
    session_hold = 0
    media = None
    for line in body:
        if line.startswith("m="):
            media = line[2:].split(" ", 1)[0]
        elif line.startswith("c=") and line.split()[-1] == "0.0.0.0":
            if media is None:
                session_hold = RFC2543_HOLD
            elif media == "audio":
                return RFC2543_HOLD
        elif line in ("a=sendonly", "a=inactive"):
            if media is None:
                session_hold = session_hold or RFC3264_HOLD
            elif media == "audio":
                return RFC3264_HOLD
    if session_hold and any(line.startswith("m=audio") for line in body):
        return session_hold
    return -1
