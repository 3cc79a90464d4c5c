"""kamapy: build the package, its module tree and the cffi native part.

The native part (kamapy/_native) is compiled at install time in cffi's API
(out-of-line) mode: kamapy/_native/build.py describes it.
The module tree modules/ installs as the top-level package `kamapy_modules`, so a
module is kamapy_modules.tm, kamapy_modules.sl, ... and third-party modules can sit
beside it without taking generic top-level names like `tm` or `modules`.
"""

import re
from pathlib import Path

from setuptools import Extension, find_packages, setup

# the one version string lives in kamapy/__init__.py
VERSION = re.search(r'^__version__ = "([^"]+)"', Path(__file__).with_name("kamapy").joinpath(
    "__init__.py").read_text(), re.M).group(1)

core_packages = find_packages(include=["kamapy", "kamapy.*"])
module_packages = ["kamapy_modules"] + [
    "kamapy_modules." + p for p in find_packages(where="modules")
]

setup(
    name="kamapy",
    version=VERSION,
    description="A SIP server in Python that mirrors Kamailio's core",
    python_requires=">=3.11",
    packages=core_packages + module_packages,
    package_dir={"kamapy_modules": "modules"},
    package_data={"kamapy": ["cfg/*.lark", "_native/*.c", "_native/*.h"]},
    # the default config, where an installed kamapy looks when /etc/kamapy/kamapy.cfg is absent
    data_files=[("share/kamapy", ["etc/kamapy.cfg"])],
    setup_requires=["cffi>=1.15"],
    cffi_modules=["kamapy/_native/build.py:ffibuilder"],
    # METH_FASTCALL entry points for the per-message C calls (kp_fastcall.c says why)
    ext_modules=[Extension("kamapy._native._fastcall", ["kamapy/_native/kp_fastcall.c"],
                           include_dirs=["kamapy/_native"], py_limited_api=True,
                           extra_compile_args=["-O2"])],
    install_requires=[
        "cffi>=1.15",
        "posix_ipc>=1.1",
        "sysv_ipc>=1.1",
        "lark>=1.1",
        "click>=8.1",
        "msgpack>=1.0",
        "psycopg[binary]>=3.1",  # PostgreSQL for the DB API: maintained, binary wheels, no libpq build
        "dnspython>=2.4",  # DNS: full record types (SRV, NAPTR), wire format, timeouts
        "wsproto>=1.2",  # WebSocket framing as a sans-IO state machine, from the h11 authors
        "h11>=0.14",  # HTTP/1.1 for xhttp, sans-IO
        "trustme>=1.1",  # throw-away CA and certificates for the TLS tests and tls.cfg examples
        "PyMySQL>=1.0",  # MySQL/MariaDB for the DB API: pure Python, maintained, no libmysqlclient build
        "redis>=5.0",  # Redis for shared state across nodes (usrloc, dialogs, htable): the maintained client, RESP parsing in C when hiredis is present
        "hiredis>=2.0",  # redis-py's RESP parser in C: a db_mode 3 lookup on Redis costs the worker ~40% less CPU
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-timeout", "hypothesis>=6", "ruff", "prometheus_client"],
    },
    entry_points={"console_scripts": ["kamapy=kamapy.cli:main", "kamapyctl=kamapy.ctl.main:main"]},
)
