"""Config errors: every problem names the original file:line:col, shows the line and a caret.

A ConfigError carries all the problems found (a check reports as many as it can),
and str(error) is what `kamapy -c` prints — never a Python traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Position:
    """Where something was written, in the original (not preprocessed) source."""

    file: str
    line: int
    col: int

    def __str__(self):
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class Problem:
    pos: Position | None
    message: str
    hint: str = ""
    source_line: str | None = None  # the offending line as written, for the caret display

    def format(self) -> str:
        where = f"{self.pos}: " if self.pos else ""
        out = [f"{where}error: {self.message}"]
        if self.source_line is not None and self.pos is not None:
            line = self.source_line.rstrip("\r\n").replace("\t", " ")
            out.append("    " + line)
            out.append("    " + " " * max(self.pos.col - 1, 0) + "^")
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)


class ConfigError(Exception):
    """One or more problems in a config; str() gives the full report."""

    def __init__(self, problems: list[Problem] | Problem):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__(self.report())

    def report(self) -> str:
        return "\n".join(p.format() for p in self.problems)

    @property
    def first(self) -> Problem:
        return self.problems[0]


class SourceLines:
    """Original file texts, so problems can quote the line they point at."""

    def __init__(self):
        self._files: dict[str, list[str]] = {}

    def add(self, name: str, text: str):
        self._files[name] = text.split("\n")

    def line(self, pos: Position | None) -> str | None:
        if pos is None:
            return None
        lines = self._files.get(pos.file)
        if lines is None or not 1 <= pos.line <= len(lines):
            return None
        return lines[pos.line - 1]

    def problem(self, pos: Position | None, message: str, hint: str = "") -> Problem:
        return Problem(pos, message, hint, self.line(pos))
