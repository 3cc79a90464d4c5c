"""Regular expressions as textops compiles them: POSIX extended, case-insensitive,
REG_NEWLINE ('^'/'$' at every line, '.' not crossing lines) -> re.I | re.M."""

from __future__ import annotations

import re

FLAGS = re.IGNORECASE | re.MULTILINE


def compile_regex(value) -> re.Pattern:
    if isinstance(value, re.Pattern):
        return value
    try:
        return re.compile(str(value), FLAGS)
    except re.error as e:
        raise ValueError(f"bad regular expression {value!r}: {e}") from None
