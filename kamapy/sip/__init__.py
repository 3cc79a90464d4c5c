"""The SIP layer: the message (msg.SipMsg over the C scan), URIs and name-addrs, the
header parsers, lumps, and the builders of replies and forwarded requests."""
