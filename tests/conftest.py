"""Suite-wide settings.

Hypothesis explores new random examples on every local run; under CI (CI=true) it
replays a fixed derandomized sequence, so a submission's result does not depend on
the luck of the draw. The long runs (`-m slow`) are where the wide exploration goes.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
