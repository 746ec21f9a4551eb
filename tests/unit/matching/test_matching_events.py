"""The engine's fast event builders make exactly the public frozen dataclasses a keyword call would."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from tradestream.matching import OrderStatus, OrderUpdate, Reason, Side, Trade
from tradestream.matching.events import new_trade, new_update


def test_new_update_equals_the_keyword_built_dataclass() -> None:
    fast = new_update("o1", "u1", OrderStatus.PARTIALLY_FILLED, 3, 2, 101, 303, None)
    slow = OrderUpdate(
        order_id="o1",
        user_id="u1",
        status=OrderStatus.PARTIALLY_FILLED,
        filled_quantity=3,
        remaining_quantity=2,
        last_fill_price=101,
        filled_notional=303,
        reason=None,
    )
    assert type(fast) is OrderUpdate
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
    assert pickle.loads(pickle.dumps(fast)) == slow
    assert dataclasses.replace(fast, reason=Reason.CANCELED_BY_USER).reason == "CANCELED_BY_USER"


def test_new_trade_equals_the_keyword_built_dataclass() -> None:
    fast = new_trade("m", "t", "mu", "tu", Side.SELL, 99, 4)
    slow = Trade(
        maker_order_id="m",
        taker_order_id="t",
        maker_user_id="mu",
        taker_user_id="tu",
        taker_side=Side.SELL,
        price=99,
        quantity=4,
    )
    assert type(fast) is Trade
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert dataclasses.astuple(fast) == dataclasses.astuple(slow)


def test_events_from_the_fast_builders_stay_frozen() -> None:
    update = new_update("o1", "u1", OrderStatus.NEW, 0, 1, None, 0, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        update.filled_quantity = 1  # type: ignore[misc]
    trade = new_trade("m", "t", "mu", "tu", Side.BUY, 1, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        trade.price = 2  # type: ignore[misc]
    assert not hasattr(update, "__dict__") and not hasattr(trade, "__dict__")


def test_status_finality() -> None:
    assert {status for status in OrderStatus if status.is_final} == {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
        OrderStatus.REJECTED,
    }
