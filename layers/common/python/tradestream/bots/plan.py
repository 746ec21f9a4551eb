"""What the simulated users do, as a pure, seeded plan: the same seed gives the same requests in order.

The plan never looks at responses. Each slot is one placement (the unit of the offered rate), maybe
preceded by cancels of the same user's earlier orders, named by their clientOrderIds; the executor runs
each user's actions in plan order, so a cancel always follows the placement it names. Fills do not
change the plan: cancelling an order that already filled is a normal 409, as for a real client.

Personas:
- market maker: quotes both sides of its tickers around a moving mid, replacing its previous quote on
  that side (cancel, then place);
- taker: crosses the spread with IOC limits or MARKET orders;
- retail: GTC limits near the mid, now and then cancelling one of its older open orders;
- fast canceller: a GTC limit away from the touch, cancelled by its next action.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

from tradestream.money import to_str

CENT = Decimal("0.01")
TICKERS = ("AAPL", "MSFT", "AMZN", "GOOG", "META", "NVDA", "TSLA", "ORCL", "INTC", "AMD")


class Persona(StrEnum):
    MARKET_MAKER = "mm"
    TAKER = "taker"
    RETAIL = "retail"
    CANCELLER = "canceller"


DEFAULT_MIX: dict[Persona, float] = {
    Persona.MARKET_MAKER: 0.25,
    Persona.TAKER: 0.2,
    Persona.RETAIL: 0.45,
    Persona.CANCELLER: 0.1,
}


def tickers(count: int) -> list[str]:
    """`count` ticker symbols: real-looking ones first, then SYM10, SYM11, ..."""
    return [TICKERS[i] if i < len(TICKERS) else f"SYM{i}" for i in range(count)]


def personas(users: int, mix: dict[Persona, float]) -> list[Persona]:
    """A persona per user, in proportion to `mix` (largest remainders), interleaved so any prefix is mixed."""
    total = sum(mix.values())
    if users <= 0 or total <= 0:
        return []
    exact = {p: users * w / total for p, w in mix.items()}
    counts = {p: int(x) for p, x in exact.items()}
    for p in sorted(exact, key=lambda p: exact[p] - counts[p], reverse=True)[: users - sum(counts.values())]:
        counts[p] += 1
    pools = {p: n for p, n in counts.items() if n}
    out: list[Persona] = []
    while len(out) < users:
        for p in list(pools):
            if pools[p]:
                out.append(p)
                pools[p] -= 1
    return out


@dataclass(frozen=True, kw_only=True, slots=True)
class Place:
    client_order_id: str
    ticker: str
    side: str
    type: str
    time_in_force: str
    quantity: Decimal
    price: Decimal | None
    crosses: bool  # meant to trade at once (a taker's order): its fill should reach the portfolio

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ticker": self.ticker,
            "side": self.side,
            "type": self.type,
            "timeInForce": self.time_in_force,
            "quantity": to_str(self.quantity),
            "clientOrderId": self.client_order_id,
        }
        if self.price is not None:
            body["price"] = to_str(self.price)
        return body


@dataclass(frozen=True, kw_only=True, slots=True)
class Action:
    slot: int
    user: int
    cancels: tuple[str, ...]  # clientOrderIds of this user's earlier orders
    place: Place


@dataclass
class _UserPlan:
    persona: Persona
    rng: random.Random
    tickers: list[str]
    open: deque[str] = field(default_factory=deque)  # GTC placements not yet cancelled, oldest first
    quotes: dict[tuple[str, str], str] = field(default_factory=dict)  # (ticker, side) -> clientOrderId
    pending_cancel: str | None = None


class Plan:
    """An endless, seeded sequence of actions for `len(roles)` users over `symbols`."""

    def __init__(
        self, *, seed: int, roles: Sequence[Persona], symbols: Sequence[str], run: str = "r"
    ) -> None:
        if not roles or not symbols:
            raise ValueError("a plan needs users and tickers")
        self._rng = random.Random(seed)
        self._run = run
        self.mids = {t: Decimal(50 + 25 * (i % 8)) for i, t in enumerate(symbols)}
        self.symbols = list(symbols)
        self.users = [
            _UserPlan(
                persona=role,
                rng=random.Random(f"{seed}/{index}"),
                # Market makers quote a few tickers each, so every ticker has a quoting maker.
                tickers=[symbols[(index + k) % len(symbols)] for k in range(min(3, len(symbols)))]
                if role is Persona.MARKET_MAKER
                else list(symbols),
            )
            for index, role in enumerate(roles)
        ]
        self.slot = 0

    def __iter__(self) -> Iterator[Action]:
        return self

    def __next__(self) -> Action:
        slot = self.slot
        self.slot += 1
        index = self._rng.randrange(len(self.users))
        user = self.users[index]
        ticker = user.rng.choice(user.tickers)
        self._walk(ticker)
        client_order_id = f"{self._run}-{slot}"
        cancels, place = {
            Persona.MARKET_MAKER: self._quote,
            Persona.TAKER: self._take,
            Persona.RETAIL: self._retail,
            Persona.CANCELLER: self._flash,
        }[user.persona](user, ticker, client_order_id)
        return Action(slot=slot, user=index, cancels=cancels, place=place)

    def _walk(self, ticker: str) -> None:
        """The mid moves a few cents per action on its ticker, and never below a dollar."""
        step = Decimal(self._rng.choice((-3, -2, -1, 0, 0, 1, 2, 3))) * CENT
        self.mids[ticker] = max(Decimal(1), self.mids[ticker] + step)

    def _price(self, ticker: str, offset_cents: int) -> Decimal:
        return max(CENT, (self.mids[ticker] + offset_cents * CENT).quantize(CENT, rounding=ROUND_HALF_EVEN))

    def _quote(self, user: _UserPlan, ticker: str, cid: str) -> tuple[tuple[str, ...], Place]:
        side = user.rng.choice(("BUY", "SELL"))
        previous = user.quotes.get((ticker, side))
        user.quotes[(ticker, side)] = cid
        half_spread = user.rng.randint(2, 8)
        price = self._price(ticker, -half_spread if side == "BUY" else half_spread)
        quantity = Decimal(user.rng.randint(5, 20))
        place = Place(
            client_order_id=cid,
            ticker=ticker,
            side=side,
            type="LIMIT",
            time_in_force="GTC",
            quantity=quantity,
            price=price,
            crosses=False,
        )
        return (() if previous is None else (previous,)), place

    def _take(self, user: _UserPlan, ticker: str, cid: str) -> tuple[tuple[str, ...], Place]:
        side = user.rng.choice(("BUY", "SELL"))
        quantity = Decimal(user.rng.randint(1, 8))
        if user.rng.random() < 0.5:
            return (), Place(
                client_order_id=cid,
                ticker=ticker,
                side=side,
                type="MARKET",
                time_in_force="IOC",
                quantity=quantity,
                price=None,
                crosses=True,
            )
        reach = user.rng.randint(5, 15)
        price = self._price(ticker, reach if side == "BUY" else -reach)
        return (), Place(
            client_order_id=cid,
            ticker=ticker,
            side=side,
            type="LIMIT",
            time_in_force="IOC",
            quantity=quantity,
            price=price,
            crosses=True,
        )

    def _retail(self, user: _UserPlan, ticker: str, cid: str) -> tuple[tuple[str, ...], Place]:
        cancels: tuple[str, ...] = ()
        if len(user.open) > 4 or (user.open and user.rng.random() < 0.2):
            cancels = (user.open.popleft(),)
        side = user.rng.choice(("BUY", "SELL"))
        offset = user.rng.randint(-6, 10)  # mostly passive, sometimes marketable
        price = self._price(ticker, -offset if side == "BUY" else offset)
        user.open.append(cid)
        return cancels, Place(
            client_order_id=cid,
            ticker=ticker,
            side=side,
            type="LIMIT",
            time_in_force="GTC",
            quantity=Decimal(user.rng.randint(1, 10)),
            price=price,
            crosses=False,
        )

    def _flash(self, user: _UserPlan, ticker: str, cid: str) -> tuple[tuple[str, ...], Place]:
        cancels = () if user.pending_cancel is None else (user.pending_cancel,)
        user.pending_cancel = cid
        side = user.rng.choice(("BUY", "SELL"))
        far = user.rng.randint(20, 40)
        return cancels, Place(
            client_order_id=cid,
            ticker=ticker,
            side=side,
            type="LIMIT",
            time_in_force="GTC",
            quantity=Decimal(user.rng.randint(1, 5)),
            price=self._price(ticker, -far if side == "BUY" else far),
            crosses=False,
        )
