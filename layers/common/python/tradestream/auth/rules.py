"""Identity rules: what a valid username and password are, and who may act on a user's resources."""

from __future__ import annotations

import re

from tradestream.errors import Forbidden, ValidationFailed

USERNAME_MIN, USERNAME_MAX = 3, 64
PASSWORD_MIN, PASSWORD_MAX = 8, 128
# ASCII only: look-alike Unicode letters would let two visually identical accounts coexist.
_USERNAME = re.compile(rf"[A-Za-z0-9_.\-]{{{USERNAME_MIN},{USERNAME_MAX}}}")

USERNAME_RULE = f"username must be {USERNAME_MIN}-{USERNAME_MAX} characters of A-Z a-z 0-9 _ . -"
PASSWORD_RULE = f"password must be {PASSWORD_MIN}-{PASSWORD_MAX} characters"


def _field_error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def _username_error(raw: str) -> dict[str, str] | None:
    return None if _USERNAME.fullmatch(raw.strip()) else _field_error("username", USERNAME_RULE)


def _password_error(password: str) -> dict[str, str] | None:
    # Not trimmed: spaces are legitimate password characters, and silently dropping them would
    # make "pw " and "pw" the same secret.
    ok = PASSWORD_MIN <= len(password) <= PASSWORD_MAX
    return None if ok else _field_error("password", PASSWORD_RULE)


def _raise_if_any(*errors: dict[str, str] | None) -> None:
    found = [error for error in errors if error is not None]
    if found:
        raise ValidationFailed("; ".join(error["message"] for error in found), extra={"errors": found})


def validate_username(raw: str) -> str:
    """The trimmed username, or ValidationFailed naming the `username` field."""
    _raise_if_any(_username_error(raw))
    return raw.strip()


def validate_password(password: str) -> str:
    """The password unchanged, or ValidationFailed naming the `password` field."""
    _raise_if_any(_password_error(password))
    return password


def validate_registration(username: str, password: str) -> tuple[str, str]:
    """(trimmed username, password), or one ValidationFailed listing every field that is wrong."""
    _raise_if_any(_username_error(username), _password_error(password))
    return username.strip(), password


def ensure_owner(caller_user_id: str, requested_user_id: str) -> None:
    """The ownership rule, written once: a caller may act only on its own userId (403 otherwise)."""
    if not caller_user_id or caller_user_id != requested_user_id:
        raise Forbidden("userId does not match the authenticated user")
