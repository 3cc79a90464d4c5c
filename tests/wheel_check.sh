#!/usr/bin/env bash
# Build the wheel and the sdist, install each into a fresh venv, and run the wire tests
# against what got installed (a copy of tests/ and etc/ in a folder with no source tree,
# so nothing can be imported from the checkout). `make wheel-test` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d /tmp/kamapy-wheel.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
.venv/bin/python -m pip wheel -q --no-deps -w "$WORK/dist" .
.venv/bin/python -m build --version >/dev/null 2>&1 || .venv/bin/python -m pip install -q build
.venv/bin/python -m build -q --sdist -o "$WORK/dist" . >/dev/null
ls "$WORK/dist"
for kind in whl tar.gz; do
    pkg=$(ls "$WORK"/dist/kamapy-*."$kind")
    $PYTHON -m venv "$WORK/venv-$kind"
    V="$WORK/venv-$kind/bin"
    "$V/python" -m pip install -q "$pkg" pytest pytest-timeout hypothesis
    # what a user of the package gets: one version string, the SIP layer, the default config
    "$V/kamapy" -V
    # from outside the checkout, so the source tree cannot be what gets imported
    (cd "$WORK" && "$V/python" -c "import kamapy.sip.msg, kamapy_modules.tm, sys
assert kamapy.__file__.startswith(sys.prefix), kamapy.__file__
print('installed at', kamapy.__file__)")
    test -f "$WORK/venv-$kind/share/kamapy/kamapy.cfg"
    "$V/kamapy" -c   # no -f: finds the config the package installed
    "$V/kamapyctl" --version
done
# the wire tests, run once, against the wheel. The differential corpus already ran
# against the checkout in `make test`; here one group of it (sl) shows the runner works from
# the wheel, and every other wire test runs in full.
mkdir -p "$WORK/tree"
# docs/differences.md: the corpus checks every deliberate case names one of its rows
cp -r tests etc docs pyproject.toml "$WORK/tree/"
cd "$WORK/tree"
# the core's wire tests; each module's own wire tests already ran against the checkout
"$WORK/venv-whl/bin/python" -m pytest -q -p no:cacheprovider -m "wire and not slow" \
    -o addopts="" tests/wire tests/server tests/modules/tm tests/modules/registrar tests/rpc tests/ctl tests/tutorial
"$WORK/venv-whl/bin/python" -m pytest -q -p no:cacheprovider -m "wire and not slow" \
    -o addopts="" tests/differential -k "sl/ or sl-"
