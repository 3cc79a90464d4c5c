"""A frozen copy of the pure-Python SIP parser and reply builder as they were before the
C tokenizer (kamapy/_native/kp_sipscan.c) took over the hot path.

It is a test oracle, not product code: tests/sip/test_sipscan.py requires the new code
to give the same values, the same SipParseError reasons and byte-identical replies on
the corpus, on hypothesis mutations and on odd header values. Do not edit it to make a
test pass; a deliberate behaviour change is an explicit exception in the test.
"""
