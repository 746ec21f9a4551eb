"""RFC 9457 problem details: the one place errors become HTTP responses."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from tradestream.errors import TradeStreamError

PROBLEM_JSON = "application/problem+json"
_WORDS = re.compile(r"_+")


def problem_type(code: str) -> str:
    return "https://tradestream.dev/problems/" + _WORDS.sub("-", code.lower())


def problem(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    request_id: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[str]:
    body = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "requestId": request_id,
        **({"instance": instance} if instance else {}),
        **extra,
    }
    return Response(
        status_code=status,
        content_type=PROBLEM_JSON,
        body=json.dumps(body),
        headers={"X-Request-Id": request_id, **(headers or {})},
    )


def from_error(error: TradeStreamError, *, request_id: str, instance: str | None = None) -> Response[str]:
    headers = {}
    retry_after = getattr(error, "retry_after_seconds", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return problem(
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        request_id=request_id,
        instance=instance,
        headers=headers,
        **error.extra,
    )


__all__ = ["PROBLEM_JSON", "content_types", "from_error", "problem", "problem_type"]
