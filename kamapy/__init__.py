"""kamapy: a SIP server in Python that mirrors Kamailio's core."""

__version__ = "0.1.0"
NAME = "kamapy"
