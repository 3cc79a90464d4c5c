"""Test helpers: a real kamapy server, a tiny UDP SIP client, SIPp runs."""
