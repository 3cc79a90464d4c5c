"""Cutting a byte stream into JSON documents (the FIFO carries one request after
another with nothing but the JSON itself to mark where each ends).

Like jsonrpcs' FIFO reader, a document is complete when its brackets balance;
brackets inside strings do not count.
"""

from __future__ import annotations

MAX_DOCUMENT = 1024 * 1024


class DocumentSplitter:
    def __init__(self, max_size: int = MAX_DOCUMENT):
        self.max_size = max_size
        self._buf = bytearray()
        self._depth = 0
        self._in_string = False
        self._escaped = False
        self.dropped = 0  # documents thrown away for being too large

    def feed(self, data: bytes) -> list[bytes]:
        """Complete documents found so far; a partial one waits for more data. One
        that grows past max_size bytes is dropped (and counted in `dropped`)."""
        done = []
        for byte in data:
            if not self._buf and self._depth == 0 and byte not in b"{[":
                continue  # whitespace or stray bytes between documents
            self._buf.append(byte)
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif byte == 0x5C:  # backslash
                    self._escaped = True
                elif byte == 0x22:  # quote
                    self._in_string = False
            elif byte == 0x22:
                self._in_string = True
            elif byte in b"{[":
                self._depth += 1
            elif byte in b"}]":
                self._depth -= 1
                if self._depth == 0:
                    done.append(bytes(self._buf))
                    self._buf.clear()
            if len(self._buf) > self.max_size:
                self.reset()
                self.dropped += 1
        return done

    def reset(self):
        self._buf.clear()
        self._depth = 0
        self._in_string = False
        self._escaped = False
