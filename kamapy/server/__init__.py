"""The process model: master (arbiter), SIP workers, timer process (Kamailio: main.c, pt.c)."""
