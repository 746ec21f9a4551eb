"""The benchmark's command stream: fixed-seed, engine-neutral tuples, made once and shared by all engines."""

from __future__ import annotations

import marshal
import random
from pathlib import Path

from tradestream.matching import (
    NewOrder,
    OrderBook,
    OrderType,
    OrderUpdate,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

# Command kinds; a command is (kind, order_id, user_id, side, price, quantity) with plain ints only, so
# adapters on any interpreter can read it. side: 0 BUY, 1 SELL; price 0 for MARKET; for CANCEL only
# order_id is meaningful (adapters that need the owner remember it from the placement).
LIMIT_GTC, LIMIT_IOC, MARKET, CANCEL = 0, 1, 2, 3
Command = tuple[int, int, int, int, int, int]

MIX = ((LIMIT_GTC, 0.70), (CANCEL, 0.20), (LIMIT_IOC, 0.05), (MARKET, 0.05))
START_MID = 1_000_000  # ticks of 1e-4: 100.0000
STEP = 100  # prices land on whole cents, so levels hold several orders
USERS = 1_000
# Each command, the mid moves one step up, or one step down, with this probability.
DRIFT = 0.05


class _Resting:
    """The ids resting right now, with O(1) add, remove and uniform pick."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.position: dict[int, int] = {}

    def add(self, order_id: int) -> None:
        self.position[order_id] = len(self.ids)
        self.ids.append(order_id)

    def discard(self, order_id: int) -> None:
        index = self.position.pop(order_id, None)
        if index is None:
            return
        last = self.ids.pop()
        if last != order_id:
            self.ids[index] = last
            self.position[last] = index


def generate(commands: int, seed: int) -> list[Command]:
    """70% LIMIT GTC around a random-walk mid, 20% cancels of resting orders, 5% IOC, 5% MARKET.

    Cancels pick uniformly among the orders resting at that moment, which needs the book's state:
    the generator runs its own OrderBook (untimed, separate from the measured one) to know it.
    Every order uses STP NONE: most peers have no self-trade prevention and all must do the same work.
    """
    rng = random.Random(seed)
    book = OrderBook()
    resting = _Resting()
    mid = START_MID
    stream: list[Command] = []
    for order_id in range(1, commands + 1):
        drift = rng.random()
        if drift < DRIFT:
            mid += STEP
        elif drift < 2 * DRIFT and mid > 100 * STEP:
            mid -= STEP
        kind = _kind(rng.random())
        if kind == CANCEL and resting.ids:
            target = resting.ids[rng.randrange(len(resting.ids))]
            resting.discard(target)
            book.cancel(f"o{target}")
            stream.append((CANCEL, target, 0, 0, 0, 0))
            continue
        command = _order(rng, LIMIT_GTC if kind == CANCEL else kind, order_id, mid)
        stream.append(command)
        for event in book.place(to_new_order(command)):
            if isinstance(event, OrderUpdate):
                number = int(event.order_id[1:])
                if event.status.is_final:
                    resting.discard(number)
                elif number == order_id:
                    resting.add(number)
    return stream


def _kind(draw: float) -> int:
    bound = 0.0
    for kind, share in MIX:
        bound += share
        if draw < bound:
            return kind
    return MIX[-1][0]


def _order(rng: random.Random, kind: int, order_id: int, mid: int) -> Command:
    side = rng.randrange(2)
    user = rng.randrange(USERS)
    quantity = rng.randint(1, 20) * 10_000
    if kind == LIMIT_GTC:
        # about one in ten crosses the spread; the rest join the book a few cents away from the mid
        away = -rng.randrange(3) if rng.random() < 0.1 else 1 + int(rng.expovariate(1 / 4))
        price = mid - away * STEP if side == 0 else mid + away * STEP
    elif kind == LIMIT_IOC:
        over = rng.randrange(4)
        price = mid + over * STEP if side == 0 else mid - over * STEP
    else:
        price = 0
    return (kind, order_id, user, side, price, quantity)


_SIDES = (Side.BUY, Side.SELL)
_TIF = {LIMIT_GTC: TimeInForce.GTC, LIMIT_IOC: TimeInForce.IOC, MARKET: TimeInForce.IOC}


def to_new_order(command: Command) -> NewOrder:
    kind, order_id, user, side, price, quantity = command
    return NewOrder(
        order_id=f"o{order_id}",
        user_id=f"u{user}",
        side=_SIDES[side],
        type=OrderType.MARKET if kind == MARKET else OrderType.LIMIT,
        time_in_force=_TIF[kind],
        quantity=quantity,
        price=None if kind == MARKET else price,
        self_trade_prevention=SelfTradePrevention.NONE,
    )


def save(stream: list[Command], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(marshal.dumps(stream))


def load(path: Path) -> list[Command]:
    stream: list[Command] = marshal.loads(path.read_bytes())
    return stream
