"""The one error the SIP layer raises for input it cannot read."""


class SipParseError(ValueError):
    """A message (or a part of one) is malformed.

    `reason` is a short human text for the log line; `status` is the reply code
    Kamailio would answer with (400 by default), or None when it silently drops.
    """

    def __init__(self, reason: str, status: int | None = 400):
        super().__init__(reason)
        self.reason = reason
        self.status = status
