"""X-Request-Id: the client's if well formed (1-128 of A-Za-z0-9._:-), else the gateway's, else a new one."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tradestream.api.resolver import request_id_of


def _event(headers: dict[str, str] | None, gateway_id: str | None = "gw-1") -> dict[str, Any]:
    return {"headers": headers, "requestContext": {"requestId": gateway_id} if gateway_id else {}}


@pytest.mark.parametrize("supplied", ["trace-42", "a" * 128, "A.b_c:d-9", "0"])
def test_a_well_formed_client_id_is_used(supplied: str) -> None:
    assert request_id_of(_event({"X-Request-Id": supplied})) == supplied


def test_the_header_name_is_case_insensitive() -> None:
    assert request_id_of(_event({"x-request-id": "lower"})) == "lower"


@pytest.mark.parametrize(
    "supplied",
    [
        "",
        "a" * 129,
        "has space",
        "semi;colon",
        "<script>",
        "ünïcode",
        "abc\n",
        "abc\r\nSet-Cookie: x=1",
        "a" * 128 + "\n",
    ],
)
def test_a_malformed_client_id_is_replaced_by_the_gateways(supplied: str) -> None:
    assert request_id_of(_event({"X-Request-Id": supplied})) == "gw-1"


def test_without_any_id_a_fresh_one_is_generated() -> None:
    generated = request_id_of(_event(None, gateway_id=None))
    assert str(uuid.UUID(generated)) == generated
    assert request_id_of(_event(None, gateway_id=None)) != generated
