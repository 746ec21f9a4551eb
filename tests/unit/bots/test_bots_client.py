"""A simulated user refreshes its access token before it expires, once, whatever the thread."""

from __future__ import annotations

import time

from tradestream.bots.client import REFRESH_MARGIN_SECONDS, Api, Credentials, Tokens


class CountingApi(Api):
    """The real bearer logic; refresh rotates tokens in memory instead of calling the API."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9")  # never contacted
        self.refreshed = 0

    def refresh(self, user: Credentials) -> None:
        self.refreshed += 1
        user.tokens = Tokens(
            access=f"access-{self.refreshed}", refresh="r", expires_at=time.monotonic() + 900
        )


def user_expiring_in(seconds: float) -> Credentials:
    user = Credentials("bot7-0001", "pw")
    user.tokens = Tokens(access="access-0", refresh="r", expires_at=time.monotonic() + seconds)
    return user


def test_a_token_far_from_expiry_is_used_as_it_is() -> None:
    api, user = CountingApi(), user_expiring_in(600)

    assert api.bearer(user) == {"Authorization": "Bearer access-0"}
    assert api.refreshed == 0


def test_a_token_near_expiry_is_refreshed_once_before_use() -> None:
    api, user = CountingApi(), user_expiring_in(REFRESH_MARGIN_SECONDS / 2)

    first, second = api.bearer(user), api.bearer(user)

    assert first == second == {"Authorization": "Bearer access-1"}
    assert api.refreshed == 1
