"""Lets these tests import the shared message helpers one directory up."""

import sys
from pathlib import Path

_up = str(Path(__file__).resolve().parent.parent)
if _up not in sys.path:
    sys.path.insert(0, _up)
