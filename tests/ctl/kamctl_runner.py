"""Running Debian's kamctl (Kamailio 5.6) against kamapy's FIFO: a throw-away HOME
whose ~/.kamctlrc selects the RPCFIFO engine and points it at our FIFO."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

KAMCTL = shutil.which("kamctl")


def kamctl(home, fifo_path: str, *args, timeout: float = 20) -> subprocess.CompletedProcess:
    rc = os.path.join(home, ".kamctlrc")
    with open(rc, "w") as f:
        f.write(f'CTLENGINE="RPCFIFO"\nRPCFIFOPATH="{fifo_path}"\nSIP_DOMAIN="example.com"\n')
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    # kamctl runs `kill 0` on SIGINT only; its own process group keeps us out of reach anyway
    return subprocess.run([KAMCTL, *args], capture_output=True, text=True, timeout=timeout, env=env,
                          start_new_session=True)


def reply_json(out: str) -> dict:
    """kamctl prints the server's JSON re-indented (filter_json + expand): still JSON
    after a trailing comma its awk may leave is dropped."""
    text = out.strip()
    try:
        return json.loads(text)
    except ValueError:
        import re
        return json.loads(re.sub(r",(\s*[\]}])", r"\1", text))
