"""Username and password rules, and the single ownership check."""

from __future__ import annotations

import pytest

from tradestream.auth import ensure_owner, validate_password, validate_registration, validate_username
from tradestream.auth.rules import PASSWORD_RULE, USERNAME_RULE
from tradestream.errors import Forbidden, ValidationFailed

USERNAME_ERROR = {"field": "username", "message": USERNAME_RULE}
PASSWORD_ERROR = {"field": "password", "message": PASSWORD_RULE}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc", "abc"),
        ("a" * 64, "a" * 64),
        ("Alice_01.x-y", "Alice_01.x-y"),
        ("  bob  ", "bob"),
        ("\tcarol\n", "carol"),
        ("...", "..."),
    ],
)
def test_valid_usernames_come_back_trimmed(raw: str, expected: str) -> None:
    assert validate_username(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "ab",
        "  ab  ",
        "a" * 65,
        "bad name",
        "bob!",
        "bo\nb",
        "ünïcode",
        "\u0661\u0662\u0663",
        "a/b",
        "a@b",
    ],
)
def test_invalid_usernames_fail_on_the_username_field(raw: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_username(raw)
    assert caught.value.extra == {"errors": [USERNAME_ERROR]}
    assert caught.value.detail == USERNAME_RULE
    assert (caught.value.status, caught.value.code) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize("password", ["x" * 8, "x" * 128, " " * 8, "pässwörd", " padded "])
def test_valid_passwords_come_back_untouched(password: str) -> None:
    assert validate_password(password) == password


@pytest.mark.parametrize("password", ["", "x" * 7, "x" * 129])
def test_invalid_passwords_fail_on_the_password_field(password: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_password(password)
    assert caught.value.extra == {"errors": [PASSWORD_ERROR]}


def test_registration_reports_every_bad_field_at_once() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_registration("a", "short")
    assert caught.value.extra == {"errors": [USERNAME_ERROR, PASSWORD_ERROR]}
    assert caught.value.detail == f"{USERNAME_RULE}; {PASSWORD_RULE}"


def test_registration_returns_the_trimmed_username_and_the_password_as_given() -> None:
    assert validate_registration("  alice ", " secret pass ") == ("alice", " secret pass ")


def test_owner_may_act_on_their_own_user_id() -> None:
    ensure_owner("user-1", "user-1")


@pytest.mark.parametrize(
    ("caller", "requested"), [("user-1", "user-2"), ("user-1", "USER-1"), ("", ""), ("u", "")]
)
def test_anyone_else_is_forbidden(caller: str, requested: str) -> None:
    with pytest.raises(Forbidden) as caught:
        ensure_owner(caller, requested)
    assert (caught.value.status, caught.value.code) == (403, "FORBIDDEN")
    assert caught.value.detail == "userId does not match the authenticated user"
