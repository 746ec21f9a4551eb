"""Issue 5 over HTTP against the local cloud: trades placed through POST /api/orders show up in every
projection (transactions, positions, summary, candles, trades, tickers).

Two users register and log in over HTTP and cross orders on tickers of their own. The first trade of
the session pays the cold starts (matching, the three projections, the query function's clients), so
it has a longer deadline; the second trade must then show in every view. The latency itself is measured
by make bench-e2e, not asserted here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

PASSWORD = "correct horse battery"
TIMEOUT = 30
COLD_DEADLINE = 30.0
# A correctness deadline: "within one second" is measured by `make bench-e2e`, never asserted in a test
# (timing on a shared 2-core machine is noise).
WARM_DEADLINE = 10.0


@dataclass(frozen=True)
class Trader:
    user_id: str
    token: str


class Client:
    def __init__(self, api: str, http: requests.Session) -> None:
        self.api = api
        self.http = http

    def get(self, path: str, trader: Trader, **params: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {trader.token}"}
        return self.http.get(f"{self.api}{path}", headers=headers, params=params, timeout=TIMEOUT)

    def sign_up(self, name: str) -> Trader:
        username = f"{name}_{uuid.uuid4().hex[:10]}"
        credentials = {"username": username, "password": PASSWORD}
        registered = self.http.post(f"{self.api}/api/users/register", json=credentials, timeout=TIMEOUT)
        assert registered.status_code == 201, registered.text
        login = self.http.post(f"{self.api}/api/auth/login", json=credentials, timeout=TIMEOUT)
        assert login.status_code == 200, login.text
        body = login.json()
        return Trader(user_id=body["user_id"], token=body["access_token"])

    def place(self, trader: Trader, ticker: str, side: str, quantity: str, price: str) -> dict[str, Any]:
        body = {
            "ticker": ticker,
            "side": side,
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": quantity,
            "price": price,
        }
        response = self.http.post(
            f"{self.api}/api/orders",
            json=body,
            headers={"Authorization": f"Bearer {trader.token}"},
            timeout=TIMEOUT,
        )
        assert response.status_code == 202, response.text
        order: dict[str, Any] = response.json()
        return order


View = tuple[str, Trader, dict[str, str], Callable[[Any], bool]]


def _views(ann: Trader, ben: Trader, ticker: str, *, quantity: str, price: str) -> list[View]:
    """What one crossing pair (ann sells, ben buys) must change, view by view."""

    def one_row(side: str, user: Trader) -> Callable[[Any], bool]:
        return lambda page: (
            page["totalElements"] == 1
            and [(r["side"], r["userId"], r["quantity"], r["price"]) for r in page["content"]]
            == [(side, user.user_id, quantity, price)]
        )

    return [
        (f"/api/transactions/{ben.user_id}/ticker/{ticker}", ben, {}, one_row("BUY", ben)),
        (f"/api/transactions/{ann.user_id}/ticker/{ticker}", ann, {}, one_row("SELL", ann)),
        (
            f"/api/portfolio/{ben.user_id}/positions/{ticker}",
            ben,
            {},
            lambda p: (p.get("quantity"), p.get("lastPrice")) == (quantity, price),
        ),
        (
            f"/api/portfolio/{ann.user_id}/positions/{ticker}",
            ann,
            {},
            lambda p: p.get("quantity") == f"-{quantity}",
        ),
        (
            f"/api/market-data/candles/{ticker}",
            ben,
            {"interval": "1m"},
            lambda candles: (
                [(c["close"], c["volume"], c["trades"]) for c in candles] == [(price, quantity, 1)]
            ),
        ),
        (
            f"/api/market-data/trades/{ticker}",
            ben,
            {},
            lambda trades: (
                [(t["price"], t["quantity"], t["takerSide"]) for t in trades] == [(price, quantity, "BUY")]
            ),
        ),
        (
            "/api/market-data/tickers",
            ben,
            {},
            lambda stats: any(s["ticker"] == ticker and s["lastPrice"] == price for s in stats),
        ),
    ]


def _wait_for_views(client: Client, views: list[View], *, started: float, deadline: float) -> float:
    """Poll each view until it holds; fail naming the view that missed the deadline. Returns the latency."""
    until = started + deadline
    for path, trader, params, holds in views:
        while True:
            response = client.get(path, trader, **params)
            if response.status_code == 200 and holds(response.json()):
                break
            if time.monotonic() > until:
                pytest.fail(
                    f"{path} not updated {deadline}s after the trade: {response.status_code} {response.text}"
                )
            time.sleep(0.01)
    return time.monotonic() - started


def _trade(client: Client, ann: Trader, ben: Trader, *, ticker: str, quantity: str, price: str) -> float:
    """ann rests a sell, ben crosses it; returns when ben's order was accepted (the clock starts there)."""
    client.place(ann, ticker, "SELL", quantity, price)
    client.place(ben, ticker, "BUY", quantity, price)
    return time.monotonic()


def _ticker() -> str:
    return "E" + uuid.uuid4().hex[:8].upper()


def test_a_trade_shows_up_in_every_projection(api: str, http: requests.Session) -> None:
    client = Client(api, http)
    ann, ben = client.sign_up("ann"), client.sign_up("ben")

    warm_up = _ticker()
    started = _trade(client, ann, ben, ticker=warm_up, quantity="1", price="100")
    views = _views(ann, ben, warm_up, quantity="1", price="100")
    _wait_for_views(client, views, started=started, deadline=COLD_DEADLINE)

    measured = _ticker()
    started = _trade(client, ann, ben, ticker=measured, quantity="2.5", price="101.25")
    latency = _wait_for_views(
        client,
        _views(ann, ben, measured, quantity="2.5", price="101.25"),
        started=started,
        deadline=WARM_DEADLINE,
    )
    assert latency <= WARM_DEADLINE

    # Both tickers now count in ben's transactions and summary.
    page = client.get(f"/api/transactions/{ben.user_id}", ben, size="10", sort="executedAt,desc").json()
    assert page["totalElements"] == 2 and page["content"][0]["ticker"] == measured
    summary = client.get(f"/api/portfolio/{ben.user_id}/summary", ben).json()
    assert summary["positions"] == 2 and summary["marketValue"] == "353.125"  # 100 x 1 + 101.25 x 2.5


def test_user_scoped_views_answer_403_for_another_user_and_404_for_no_position(
    api: str, http: requests.Session
) -> None:
    client = Client(api, http)
    ann, ben = client.sign_up("ann"), client.sign_up("ben")

    for path in (
        f"/api/transactions/{ben.user_id}",
        f"/api/transactions/{ben.user_id}/ticker/AAPL",
        f"/api/transactions/{ben.user_id}/since",
        f"/api/portfolio/{ben.user_id}/positions",
        f"/api/portfolio/{ben.user_id}/positions/AAPL",
        f"/api/portfolio/{ben.user_id}/summary",
    ):
        response = client.get(path, ann, iso="2026-01-01T00:00:00Z")
        assert response.status_code == 403, path
        assert response.json()["code"] == "FORBIDDEN"
    missing = client.get(f"/api/portfolio/{ann.user_id}/positions/NOPE", ann)
    assert missing.status_code == 404 and missing.json()["code"] == "POSITION_NOT_FOUND"
    bad = client.get(f"/api/transactions/{ann.user_id}/since", ann, iso="last tuesday")
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION_ERROR"
