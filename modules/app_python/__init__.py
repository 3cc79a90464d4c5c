"""app_python: Kamailio 5.6's Python 2 module, same parameters, engine ("python") and
RPC names as app_python3; kamapy runs both on Python 3 (see modules/app_python3).
As in Kamailio the two cannot be loaded together."""

from kamapy_modules.app_python3 import make_exports

exports = make_exports("app_python")
