"""The bots' plan is pure and seeded: same seed, same requests; cancels name the user's own earlier orders."""

from __future__ import annotations

import itertools
from collections import Counter
from decimal import Decimal

import pytest

from tradestream.bots.plan import DEFAULT_MIX, Action, Persona, Plan, personas, tickers
from tradestream.bots.simulation import settled
from tradestream.bots.stats import percentile


def actions(seed: int, count: int, users: int = 12) -> list[Action]:
    plan = Plan(seed=seed, roles=personas(users, DEFAULT_MIX), symbols=tickers(4), run="t")
    return list(itertools.islice(plan, count))


def test_the_same_seed_gives_the_same_requests_and_another_seed_does_not() -> None:
    first, again, other = actions(7, 500), actions(7, 500), actions(8, 500)

    assert first == again
    assert [a.place.body() for a in first] != [a.place.body() for a in other]


def test_personas_follow_the_mix_and_any_prefix_is_mixed() -> None:
    roles = personas(20, DEFAULT_MIX)

    assert Counter(roles) == {
        Persona.MARKET_MAKER: 5,
        Persona.TAKER: 4,
        Persona.RETAIL: 9,
        Persona.CANCELLER: 2,
    }
    assert set(roles[:4]) == set(Persona)
    assert personas(0, DEFAULT_MIX) == []


def test_every_cancel_names_an_earlier_order_of_the_same_user() -> None:
    placed_by: dict[str, int] = {}
    for action in actions(3, 2000):
        for client_order_id in action.cancels:
            assert placed_by[client_order_id] == action.user
        placed_by[action.place.client_order_id] = action.user


def test_each_persona_sends_what_it_is_for() -> None:
    plan = Plan(seed=5, roles=personas(12, DEFAULT_MIX), symbols=tickers(3), run="t")
    by_persona: dict[Persona, list[Action]] = {p: [] for p in Persona}
    for action in itertools.islice(plan, 3000):
        by_persona[plan.users[action.user].persona].append(action)

    takers = [a.place for a in by_persona[Persona.TAKER]]
    assert all(p.crosses and p.time_in_force == "IOC" for p in takers)
    assert {p.type for p in takers} == {"LIMIT", "MARKET"}
    makers = by_persona[Persona.MARKET_MAKER]
    assert all(a.place.time_in_force == "GTC" and not a.place.crosses for a in makers)
    assert sum(1 for a in makers if a.cancels) > len(makers) / 2  # re-quoting replaces the old quote
    flashes = by_persona[Persona.CANCELLER]
    assert all(len(a.cancels) == 1 for a in flashes[len(Persona) :])
    for action in itertools.chain.from_iterable(by_persona.values()):
        assert action.place.quantity > 0
        assert action.place.price is None or action.place.price >= Decimal("0.01")


def test_tickers_are_named_beyond_the_ten_real_ones() -> None:
    assert tickers(12)[-3:] == ["AMD", "SYM10", "SYM11"]


@pytest.mark.parametrize(
    ("status", "updated", "expected"),
    [
        ("NEW", "2026-01-01T00:00:00.000Z", False),  # not yet seen by the engine
        ("NEW", "2026-01-01T00:00:00.015Z", True),  # resting
        ("PARTIALLY_FILLED", "2026-01-01T00:00:00.015Z", True),
        ("FILLED", "2026-01-01T00:00:00.015Z", True),
        ("REJECTED", "2026-01-01T00:00:00.000Z", True),
    ],
)
def test_an_order_is_settled_when_final_or_resting(status: str, updated: str, expected: bool) -> None:
    order = {"status": status, "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": updated}

    assert settled(order) is expected


def test_percentiles_use_the_nearest_rank() -> None:
    samples = [float(x) for x in range(1, 101)]

    assert (percentile(samples, 0.5), percentile(samples, 0.99), percentile([], 0.5)) == (50.0, 99.0, None)
