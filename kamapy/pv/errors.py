"""Errors raised while parsing pseudo-variables and transformations."""

from __future__ import annotations


class PvError(Exception):
    """A bad pseudo-variable spec: unknown name, bad syntax, bad transformation.

    `col` is the 0-based offset in the text that was parsed, so the config compiler can
    point at the exact column (it adds the offset of the PV in the source line).
    """

    def __init__(self, message: str, col: int = 0):
        super().__init__(message)
        self.message = message
        self.col = col

    def __str__(self):
        return self.message


class TransformError(Exception):
    """A transformation could not be applied to a value at run time.

    Kamailio makes the whole PV read fail then: the value is $null for the script and
    nothing is printed in a format string.
    """
