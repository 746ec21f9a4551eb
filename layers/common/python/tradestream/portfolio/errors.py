"""Errors of the portfolio domain: a malformed fill, or one older than the position's sequence guard."""

from __future__ import annotations

from tradestream.errors import Conflict, TradeStreamError, ValidationFailed


class InvalidFill(ValidationFailed):
    code = "INVALID_FILL"
    title = "Fill is malformed"


class StaleFill(Conflict):
    code = "STALE_FILL"
    title = "Fill is not newer than the last one applied to the position"


class InvalidPosition(TradeStreamError):
    """A stored position breaks its rules (flat with a cost, negative cost): corrupt data, not input."""

    code = "INVALID_POSITION"
    title = "Position state is inconsistent"
