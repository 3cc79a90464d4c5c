"""The master process: forks the children and keeps them alive (gunicorn's arbiter is the
model; Kamailio: main.c main_loop, pt.c).

Signal handlers only queue the signal and write a byte to a pipe that wakes the loop;
everything else happens in the loop:

  SIGCHLD          reap dead children; fork a replacement for each at once
  SIGTERM, SIGINT  stop: SIGTERM to every child, SIGKILL after a grace period
  SIGHUP, SIGPIPE  ignored (as Kamailio's main process does)

Beyond Kamailio (which shuts down when a child dies), a dead child is replaced, and
the locks it held are recovered by the robust mutexes on their next use. A child that
fails in child_init (exit code EXIT_INIT_FAILED) or dies again and again right after
start stops the server instead: that is a broken module, not a crash to ride out.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import select
import signal
import time
from dataclasses import dataclass
from typing import Callable

from .. import log as kamapy_log
from .. import stats
from ..module import PROC_NOCHLDINIT
from ..runtime import rt
from . import gc_tuning

log = logging.getLogger("kamapy.arbiter")

EXIT_INIT_FAILED = 3
STOP_GRACE = 1.5          # seconds between SIGTERM and SIGKILL at shutdown
CRASH_WINDOW = 1.0        # a child that dies sooner than this after start "crashed at start"
MAX_START_CRASHES = 5     # ... this many times in a row: give up
PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15


@dataclass
class ChildSpec:
    desc: str
    rank: int
    run: Callable[[], None]
    short: str = "kamapy-child"   # process name shown by ps (15 chars at most)
    slot: int = 0
    pid: int = 0
    started: float = 0.0
    start_crashes: int = 0


def _set_process_name(name: str):
    """Name the process for ps/top (/proc/PID/comm, 15 bytes): "kamapy-udp-1"."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _die_with_parent():
    """Ask the kernel to SIGTERM this child if the master dies (even by SIGKILL), so a
    killed master never leaves orphan workers holding the SIP port."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Arbiter:
    def __init__(self, registry, children: list[ChildSpec], pidfile: str | None = None,
                 receiver=None):
        self.registry = registry
        # -D: the master itself is the SIP receiver of this socket (Kamailio's
        # "stand-alone receiver"), between its supervision duties
        self.receiver = receiver
        self.children = children
        self.pidfile = pidfile
        self.signals: list[int] = []
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.exit_code = 0
        self.master_pid = os.getpid()

    # ------------------------------------------------------------------ signals
    def _on_signal(self, signum, _frame):
        self.signals.append(signum)
        try:
            os.write(self.wake_w, b".")
        except OSError:
            pass

    def _install_signals(self):
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    # ------------------------------------------------------------------ children
    def spawn(self, spec: ChildSpec):
        gc_tuning.before_fork()
        pid = os.fork()
        if pid:
            spec.pid = pid
            spec.started = time.monotonic()
            if rt.proctable is not None:
                rt.proctable.set(spec.slot, pid, spec.rank, spec.desc)
            return
        self._child_main(spec)

    def _child_main(self, spec: ChildSpec):
        code = 0
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)   # the master stops us
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.close(self.wake_r)
            os.close(self.wake_w)
            _die_with_parent()
            _set_process_name(spec.short)
            if os.getppid() != self.master_pid:  # the master died before prctl took effect
                os._exit(0)
            rt.rank = spec.rank
            stats.bind_process(spec.slot)  # this process' part of every statistic
            if rt.proctable is not None:
                # the master writes it too, after fork() returns there; written here as
                # well, the entry exists before this process can answer anything
                rt.proctable.set(spec.slot, os.getpid(), spec.rank, spec.desc)
            kamapy_log.set_rank(spec.rank)
            try:
                if spec.rank != PROC_NOCHLDINIT:
                    self.registry.child_init_all(spec.rank)
            except Exception:
                log.exception("child_init failed in %s", spec.desc)
                code = EXIT_INIT_FAILED
                return
            gc_tuning.child_ready()
            spec.run()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 0
        except BaseException:
            log.exception("process %s ended with an error", spec.desc)
            code = 1
        finally:
            os._exit(code)

    def _reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            spec = next((c for c in self.children if c.pid == pid), None)
            if spec is None:
                continue
            spec.pid = 0
            if rt.proctable is not None:
                rt.proctable.clear(spec.slot)
            if rt.stopping:
                continue
            how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                   else f"exit code {os.WEXITSTATUS(status)}")
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_INIT_FAILED:
                log.critical("%s (pid %d) failed to initialise; stopping the server", spec.desc, pid)
                self.exit_code = 1
                self.stop()
                return
            lived = time.monotonic() - spec.started
            spec.start_crashes = spec.start_crashes + 1 if lived < CRASH_WINDOW else 0
            if spec.start_crashes >= MAX_START_CRASHES:
                log.critical("%s keeps dying right after start (%s); stopping the server", spec.desc, how)
                self.exit_code = 1
                self.stop()
                return
            log.error("%s (pid %d) died (%s); starting a new one", spec.desc, pid, how)
            self.spawn(spec)

    # ------------------------------------------------------------------ main loop
    def run(self) -> int:
        self._install_signals()
        if rt.proctable is not None:
            rt.proctable.set(0, os.getpid(), 0, "main process - attendant")
        for i, spec in enumerate(self.children):
            spec.slot = i + 1
            self.spawn(spec)
        log.info("kamapy started: %d child processes", len(self.children))
        watch = [self.wake_r]
        if self.receiver is not None:
            self._init_receiver()
            watch.append(self.receiver.sock)
        while not rt.stopping:
            try:
                ready, _, _ = select.select(watch, [], [], 1.0)
            except InterruptedError:
                ready = []
            if self.receiver is not None and self.receiver.sock in ready:
                self._receive_one()
            try:
                while os.read(self.wake_r, 512):
                    pass
            except BlockingIOError:
                pass
            except OSError as e:
                if e.errno != errno.EAGAIN:
                    raise
            signals, self.signals = self.signals, []
            for sig in signals:
                if sig in (signal.SIGTERM, signal.SIGINT):
                    log.log(kamapy_log.NOTICE, "signal %d received: stopping", sig)
                    self.stop()
            self._reap()
        self._shutdown()
        return self.exit_code

    def stop(self):
        rt.stopping = True

    # ------------------------------------------------------------------ -D receiver
    def _init_receiver(self):
        si = self.receiver
        if rt.proctable is not None:
            rt.proctable.set(0, os.getpid(), 0, f"stand-alone receiver @ {si.address}:{si.port}")
        # Kamailio runs child_init for the main process as for a SIP worker (rank 1)
        self.registry.child_init_all(1)
        gc_tuning.child_ready()
        si.sock.setblocking(False)

    def _receive_one(self):
        from ..net import stun_in
        from ..sip.msg import PROTO_UDP, RecvInfo
        from .receive import receive_msg
        from .worker import MAX_DATAGRAM, MIN_UDP_PACKET
        si = self.receiver
        try:
            data, addr = si.sock.recvfrom(MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            log.error("recvfrom on %s failed: %s", si, e)
            return
        if data < b"\x01" and stun_in.handler is not None:  # as udp_loop (worker.py)
            if data:
                stun_in.handler(data, addr, si)
            return
        if len(data) < MIN_UDP_PACKET:
            return
        try:
            receive_msg(data, RecvInfo(addr[0], addr[1], si.address, si.port, PROTO_UDP, si))
        except Exception:
            log.exception("processing a message from %s:%s failed", addr[0], addr[1])

    def _shutdown(self):
        live = [c for c in self.children if c.pid]
        for c in live:
            try:
                os.kill(c.pid, signal.SIGTERM)
            except ProcessLookupError:
                c.pid = 0
        deadline = time.monotonic() + STOP_GRACE
        while any(c.pid for c in self.children) and time.monotonic() < deadline:
            self._reap_quiet()
            time.sleep(0.01)
        for c in self.children:
            if c.pid:
                log.warning("%s (pid %d) did not stop; killing it", c.desc, c.pid)
                try:
                    os.kill(c.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 1.0
        while any(c.pid for c in self.children) and time.monotonic() < deadline:
            self._reap_quiet()
            time.sleep(0.01)
        self.registry.destroy_all()
        for si in rt.sockets:
            si.close()
        if self.pidfile:
            try:
                os.unlink(self.pidfile)
            except OSError:
                pass
        log.info("kamapy stopped")

    def _reap_quiet(self):
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                for c in self.children:
                    c.pid = 0
                return
            if pid == 0:
                return
            for c in self.children:
                if c.pid == pid:
                    c.pid = 0
