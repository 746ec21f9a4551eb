"""A user of the public HTTP API: register, log in, refresh before the access token expires, trade.

Only the routes a browser would use; no table, queue or internal endpoint. One `requests.Session` per
calling thread (sessions pool connections but are not meant to be shared across threads).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

# Refresh this long before the access token expires, so no request goes out with a dying token.
REFRESH_MARGIN_SECONDS = 60.0
TIMEOUT_SECONDS = 30.0


class ApiError(Exception):
    def __init__(self, status: int, body: str, what: str) -> None:
        super().__init__(f"{what}: HTTP {status} {body[:200]}")
        self.status = status
        self.body = body


@dataclass
class Tokens:
    access: str
    refresh: str
    expires_at: float  # time.monotonic() of the access token's expiry


class Credentials:
    """One simulated user: username, password, id, and its tokens (refreshed in place, thread-safe)."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self.user_id = ""
        self.tokens: Tokens | None = None
        self.lock = threading.Lock()
        self.refreshes = 0


class Api:
    """The HTTP calls; `session` belongs to the calling thread."""

    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.session = session or requests.Session()

    def _url(self, path: str) -> str:
        return f"{self.base}{path}"

    # --- identity -----------------------------------------------------------------------------------
    def register(self, user: Credentials) -> bool:
        """True if created, False if the username exists already (a rerun with the same seed)."""
        response = self.session.post(
            self._url("/api/users/register"),
            json={"username": user.username, "password": user.password},
            timeout=TIMEOUT_SECONDS,
        )
        if response.status_code == 201:
            return True
        if response.status_code == 409:
            return False
        raise ApiError(response.status_code, response.text, f"register {user.username}")

    def login(self, user: Credentials) -> float | None:
        """Logs in; returns None, or the Retry-After seconds if the login rate limit said 429."""
        response = self.session.post(
            self._url("/api/auth/login"),
            json={"username": user.username, "password": user.password},
            timeout=TIMEOUT_SECONDS,
        )
        if response.status_code == 429:
            return float(response.headers.get("Retry-After", "1"))
        if response.status_code != 200:
            raise ApiError(response.status_code, response.text, f"login {user.username}")
        self._store(user, response.json())
        return None

    def _store(self, user: Credentials, body: dict[str, Any]) -> None:
        user.user_id = str(body["user_id"])
        user.tokens = Tokens(
            access=str(body["access_token"]),
            refresh=str(body["refresh_token"]),
            expires_at=time.monotonic() + float(body["expires_in"]),
        )

    def refresh(self, user: Credentials) -> None:
        assert user.tokens is not None
        response = self.session.post(
            self._url("/api/auth/refresh"),
            json={"refresh_token": user.tokens.refresh},
            timeout=TIMEOUT_SECONDS,
        )
        if response.status_code != 200:
            raise ApiError(response.status_code, response.text, f"refresh {user.username}")
        self._store(user, response.json())
        user.refreshes += 1

    def bearer(self, user: Credentials) -> dict[str, str]:
        """The Authorization header, refreshing (rotating the refresh token) when expiry is near."""
        with user.lock:
            if user.tokens is None:
                raise ApiError(401, "", f"{user.username} is not logged in")
            if user.tokens.expires_at - time.monotonic() < REFRESH_MARGIN_SECONDS:
                self.refresh(user)
            return {"Authorization": f"Bearer {user.tokens.access}"}

    # --- trading -----------------------------------------------------------------------------------
    def place(self, user: Credentials, body: dict[str, Any]) -> requests.Response:
        return self.session.post(
            self._url("/api/orders"), json=body, headers=self.bearer(user), timeout=TIMEOUT_SECONDS
        )

    def cancel(self, user: Credentials, order_id: str) -> requests.Response:
        return self.session.post(
            self._url(f"/api/orders/{order_id}/cancel"), headers=self.bearer(user), timeout=TIMEOUT_SECONDS
        )

    def order(self, user: Credentials, order_id: str) -> requests.Response:
        return self.session.get(
            self._url(f"/api/orders/{order_id}"), headers=self.bearer(user), timeout=TIMEOUT_SECONDS
        )

    def open_orders(self, user: Credentials) -> list[dict[str, Any]]:
        """Every NEW or PARTIALLY_FILLED order of the user, all pages."""
        orders: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"status": "open", "limit": "200", **({"cursor": cursor} if cursor else {})}
            response = self.session.get(
                self._url("/api/orders"), params=params, headers=self.bearer(user), timeout=TIMEOUT_SECONDS
            )
            if response.status_code != 200:
                raise ApiError(response.status_code, response.text, f"open orders of {user.username}")
            page = response.json()
            orders.extend(page["items"])
            cursor = page.get("nextCursor")
            if not cursor:
                return orders

    def position(self, user: Credentials, ticker: str) -> requests.Response:
        return self.session.get(
            self._url(f"/api/portfolio/{user.user_id}/positions/{ticker}"),
            headers=self.bearer(user),
            timeout=TIMEOUT_SECONDS,
        )
