"""The faked request event routes run on (Kamailio's fmsg.c): a new message id each time,
wrapping past 0 as Kamailio's unsigned counter does."""

from kamapy.sip import fmsg


def test_each_faked_request_has_the_next_id_and_the_id_wraps_past_zero(monkeypatch):
    monkeypatch.setitem(fmsg._counter, "id", 41)
    a, b = fmsg.next_faked_msg(), fmsg.next_faked_msg()
    assert (a.id, b.id) == (42, 43)
    assert a is not b and a.method == "OPTIONS" and a.get_header("call-id").value == "1"
    monkeypatch.setitem(fmsg._counter, "id", 0xFFFFFFFF)
    assert fmsg.next_faked_msg().id == 1
