"""What every error response of the API must look like: RFC 9457 problem JSON with our stable fields."""

from __future__ import annotations

from typing import Any

from tests.events import Reply

PROBLEM_JSON = "application/problem+json"


def assert_problem(reply: Reply, status: int, code: str, *, request_id: str | None = None) -> dict[str, Any]:
    """Assert the reply is the problem `code` with `status`; returns the body for further checks."""
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = reply.json()
    assert body["type"] == "https://tradestream.dev/problems/" + code.lower().replace("_", "-")
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    # The request id is in the body and echoed in the header, the same value.
    assert body["requestId"] == reply.headers["x-request-id"]
    if request_id is not None:
        assert body["requestId"] == request_id
    return body
