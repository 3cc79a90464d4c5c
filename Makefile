# kamapy — the README's commands call these targets.
#   make run    start kamapy on etc/kamapy.cfg in the foreground (127.0.0.1:5060)
#   make test   run the test suite (installs what it needs first)
#   make wheel-test  the wire tests against a built and installed wheel (CI runs it too)

# The venv's interpreter: the system's CPython when there is one (Debian's python3, which
# the README's prerequisites name, built with profile-guided optimisation): a plain build
# found first on PATH (pyenv's default) costs 5-13 % more CPU per SIP message
# (docs/performance.md). PYTHON=... picks another.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Debian packages the tests drive as real peers
DEB_PACKAGES := sip-tester kamailio postgresql baresip-core nftables rtpengine-daemon dnsmasq-base kamailio-sqlite-modules kamailio-postgres-modules kamailio-mysql-modules kamailio-tls-modules kamailio-websocket-modules mariadb-server chromium redis-server kamailio-redis-modules kamailio-outbound-modules
NATIVE_SRC := $(wildcard kamapy/_native/*.c kamapy/_native/*.h) kamapy/_native/build.py

.PHONY: install deps run test test-all wheel-test bench bench-compare lint clean

install: $(STAMP)

$(STAMP): setup.py pyproject.toml $(NATIVE_SRC)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel cffi
	$(PY) -m pip install -q --no-build-isolation -e '.[test]'
	touch $@

# system packages for the wire tests (root on Debian; skipped when all are present)
deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

run: install
	$(VENV)/bin/kamapy -f etc/kamapy.cfg -DD -E

test: deps install
	$(PY) -m pytest -q -m "not slow" -p no:cacheprovider

# build the wheel and the sdist, install each in a fresh venv, run the wire tests on the wheel
wheel-test: deps install
	PYTHON=$(PYTHON) bash tests/wheel_check.sh

test-all: deps install
	$(PY) -m pytest -q -p no:cacheprovider

# micro-benchmarks, then kamapy under SIPp with the shared reference config (all three
# workloads); bench-compare runs Kamailio too, in the same session, and prints ratios
bench: deps install
	$(PY) bench/native_bench.py
	$(PY) bench/sip_bench.py
	$(PY) bench/compare.py --kamapy-only --duration 10

bench-compare: deps install
	$(PY) bench/compare.py --duration 15 --runs 3 --log bench/results.jsonl

lint: install
	$(VENV)/bin/ruff check kamapy modules tests bench

clean:
	rm -rf $(VENV) build *.egg-info kamapy/_native/*.so kamapy/_native/_kamapy_native.c
