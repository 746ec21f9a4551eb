"""The caller from the authorizer context, and the one ownership check every user-scoped route uses."""

from __future__ import annotations

from typing import Any

import pytest

from tradestream.api.caller import Caller, caller_of
from tradestream.errors import Forbidden, Unauthorized

ALICE = Caller(user_id="u-alice", username="alice", scopes=("orders:write", "orders:read"))


def _event(authorizer: dict[str, Any] | None) -> dict[str, Any]:
    context: dict[str, Any] = {"requestId": "r-1"}
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {"requestContext": context}


def test_the_caller_is_read_from_the_authorizer_context() -> None:
    event = _event({"userId": "u-alice", "username": "alice", "scopes": "orders:write orders:read"})
    assert caller_of(event) == ALICE


@pytest.mark.parametrize("authorizer", [None, {}, {"userId": ""}, {"username": "alice"}])
def test_no_authorizer_context_fails_closed(authorizer: dict[str, Any] | None) -> None:
    with pytest.raises(Unauthorized) as caught:
        caller_of(_event(authorizer))
    assert (caught.value.status, caught.value.code) == (401, "UNAUTHORIZED")


def test_a_caller_may_act_on_its_own_user_id() -> None:
    ALICE.ensure_owner("u-alice")


def test_no_user_id_in_the_request_means_the_caller_itself() -> None:
    ALICE.ensure_owner(None)


@pytest.mark.parametrize("requested", ["u-bob", "", "U-ALICE", "u-alice ", "u-alic"])
def test_any_other_user_id_is_forbidden(requested: str) -> None:
    with pytest.raises(Forbidden) as caught:
        ALICE.ensure_owner(requested)
    assert (caught.value.status, caught.value.code) == (403, "FORBIDDEN")


def test_a_caller_without_a_user_id_owns_nothing() -> None:
    nobody = Caller(user_id="", username="", scopes=())
    with pytest.raises(Forbidden):
        nobody.ensure_owner("")
