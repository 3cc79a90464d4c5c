"""kamapyctl, the management CLI (kamapy/ctl/main.py is the entry point)."""
