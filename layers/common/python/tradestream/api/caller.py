"""The authenticated caller, as the REQUEST authorizer put it into requestContext.authorizer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tradestream.auth import ensure_owner
from tradestream.errors import Unauthorized


@dataclass(frozen=True, kw_only=True)
class Caller:
    user_id: str
    username: str
    scopes: tuple[str, ...]

    def ensure_owner(self, requested_user_id: str | None) -> None:
        """403 unless the path/body userId (when given) is the caller: the one ownership check."""
        if requested_user_id is not None:
            ensure_owner(self.user_id, requested_user_id)


def caller_of(raw_event: dict[str, Any]) -> Caller:
    context = (raw_event.get("requestContext") or {}).get("authorizer") or {}
    user_id = context.get("userId")
    if not user_id:
        # Only reachable when a route is deployed without the authorizer: fail closed.
        raise Unauthorized("this route needs a bearer token")
    return Caller(
        user_id=str(user_id),
        username=str(context.get("username", "")),
        scopes=tuple(str(context.get("scopes", "")).split()),
    )
