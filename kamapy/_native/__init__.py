"""The C part of kamapy, reached through cffi (built by build.py at install time)."""
