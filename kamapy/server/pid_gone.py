"""Is a process gone? For shared records that name the process that left work on them
half-done: when it died (SIGKILL, a crash), another process takes the work over."""

from __future__ import annotations


def pid_gone(pid: int) -> bool:
    """True when no process has this pid, or it is a zombie its parent has not reaped
    yet (a worker just killed: the arbiter's waitpid may still be on its way)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    # the state letter follows the ") " that closes the command name (which may
    # itself hold parentheses and spaces)
    i = stat.rfind(b")")
    return stat[i + 2:i + 3] in (b"Z", b"X")
