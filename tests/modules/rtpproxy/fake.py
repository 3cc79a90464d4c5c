"""A recording rtpproxy-protocol peer (UDP): answers as rtpengine's legacy listener
does (V 20040107, VF 1, U/L "<port> <ip> 4", D/P/S/R 0, Q counters) and keeps every
command it got, cookie stripped, for the side-by-side tests."""

from __future__ import annotations

import socket
import threading


class FakeRtpproxy:
    def __init__(self, ip="192.0.2.10"):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        self.ip = ip
        self.mode = "ok"        # "ok", "silent", "error"
        self.caps = "1"         # the answer to every VF
        self.commands: list[str] = []
        self.stop_flag = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    @property
    def url(self):
        return f"udp:127.0.0.1:{self.port}"

    def answer(self, cmd: str) -> str | None:
        op = cmd[:1]
        if cmd == "V":
            return "20040107"
        if cmd.startswith("VF"):
            return self.caps
        if self.mode == "silent":
            return None
        if self.mode == "error":
            return "E8"
        if op in "UL":
            parts = cmd.split()
            media = parts[-1].rsplit(";", 1)[-1] if ";" in parts[-1] else "1"
            return f"{30000 + 2 * int(media)} {self.ip} 4"
        if op == "Q":
            return "3600 0 0 0 0"
        return "0"

    def run(self):
        while not self.stop_flag:
            try:
                data, addr = self.s.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            cookie, _, rest = data.decode("latin-1").partition(" ")
            self.commands.append(rest)
            out = self.answer(rest)
            if out is not None:
                self.s.sendto(f"{cookie} {out}\n".encode(), addr)

    def session_commands(self) -> list[str]:
        return [c for c in self.commands if not c.startswith("V")]

    def close(self):
        self.stop_flag = True
        self.t.join(1)
        self.s.close()


class UnixFakeRtpproxy(FakeRtpproxy):
    """The same peer on a unix stream socket: one command per connection, no cookie."""

    def __init__(self, path: str, ip="192.0.2.10"):
        self.path = path
        self.us = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.us.bind(path)
        self.us.listen(16)
        self.us.settimeout(0.2)
        super().__init__(ip)

    @property
    def url(self):
        return f"unix:{self.path}"

    def run(self):
        while not self.stop_flag:
            try:
                c, _ = self.us.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with c:
                c.settimeout(1)
                try:
                    cmd = c.recv(65536).decode("latin-1")
                except OSError:
                    continue
                self.commands.append(cmd)
                out = self.answer(cmd)
                if out is not None:
                    c.sendall(f"{out}\n".encode())

    def close(self):
        super().close()
        self.us.close()
