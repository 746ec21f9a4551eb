"""Thin adapters: the neutral command stream as each engine's own calls, built before timing starts."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from importlib import metadata
from typing import Any

from bench.matching.stream import CANCEL, LIMIT_GTC, LIMIT_IOC, MARKET, Command, to_new_order
from tradestream.matching import OrderBook

# What the timed loop calls, once per command: a function of one prepared argument.
Call = tuple[Callable[[Any], object], Any]
Levels = list[tuple[int, int, int]]
Top = tuple[Levels, Levels]


class Adapter:
    """One engine: `prepare` builds every native input up front (untimed), `top` reads its final book."""

    name = ""
    distribution: str | None = None  # the PyPI name, for the version in the report
    notes: tuple[str, ...] = ()

    def prepare(self, stream: list[Command]) -> list[Call]:
        raise NotImplementedError

    def top(self, levels: int) -> Top | None:
        """(price, quantity, order count) per level, best first, or None if the engine cannot say."""
        return None

    def close(self) -> None:
        """Stop anything the engine started."""

    def version(self) -> str:
        if self.distribution is None:
            return "this repository"
        return metadata.version(self.distribution)


class Ours(Adapter):
    name = "tradestream"

    def __init__(self) -> None:
        self.book = OrderBook()

    def prepare(self, stream: list[Command]) -> list[Call]:
        place, cancel = self.book.place, self.book.cancel
        return [(cancel, f"o{c[1]}") if c[0] == CANCEL else (place, to_new_order(c)) for c in stream]

    def top(self, levels: int) -> Top:
        return self.book.depth(levels)


class MatchingEngine(Adapter):
    """`matching-engine` (Python >= 3.12): the full command set natively, STP NONE, market orders as IOC."""

    name = "matching-engine"
    distribution = "matching-engine"

    def __init__(self) -> None:
        self.lib = importlib.import_module("matching_engine")
        self.engine = importlib.import_module("matching_engine.engine").MatchingEngine()

    def prepare(self, stream: list[Command]) -> list[Call]:
        lib = self.lib
        sides = (lib.Side.BUY, lib.Side.SELL)
        kinds = {
            LIMIT_GTC: (lib.OrderType.LIMIT, lib.TimeInForce.GTC),
            LIMIT_IOC: (lib.OrderType.LIMIT, lib.TimeInForce.IOC),
            MARKET: (lib.OrderType.MARKET, lib.TimeInForce.IOC),
        }
        owner: dict[int, int] = {}
        process = self.engine.process
        calls: list[Call] = []
        for seq, (kind, order_id, user, side, price, quantity) in enumerate(stream, start=1):
            if kind == CANCEL:
                command = lib.CancelOrder(order_id, owner[order_id])
            else:
                owner[order_id] = user
                order_type, tif = kinds[kind]
                command = lib.NewOrder(
                    order_id,
                    user,
                    sides[side],
                    price,
                    quantity,
                    order_type=order_type,
                    tif=tif,
                    stp=lib.SelfTradePrevention.NONE,
                )
            calls.append((process, lib.SequencedCommand(seq, 0, command)))
        return calls

    def top(self, levels: int) -> Top:
        depth = self.engine.book.depth(levels)
        return (
            [(level.price, level.qty, level.orders) for level in depth.bids],
            [(level.price, level.qty, level.orders) for level in depth.asks],
        )


class LightMatchingEngine(Adapter):
    name = "lightmatchingengine"
    distribution = "lightmatchingengine"
    notes = (
        "no IOC or market type: IOC = limit + cancel of the rested remainder; MARKET = its price-0 "
        "order (crosses everything) + cancel of the remainder, which it would otherwise rest at price 0",
    )

    def __init__(self) -> None:
        module = importlib.import_module("lightmatchingengine.lightmatchingengine")
        self.engine = module.LightMatchingEngine()
        self.sides = (module.Side.BUY, module.Side.SELL)
        self.book = self.engine.order_books.setdefault("X", module.OrderBook())
        self.ids: dict[int, int] = {}

    def prepare(self, stream: list[Command]) -> list[Call]:
        add, cancel, ids, sides, book = (
            self.engine.add_order,
            self.engine.cancel_order,
            self.ids,
            self.sides,
            self.book,
        )

        def rest(args: tuple[int, int, int, int]) -> None:
            order_id, price, quantity, side = args
            ids[order_id] = add("X", price, quantity, side)[0].order_id

        def immediate(args: tuple[int, int, int]) -> None:
            price, quantity, side = args
            order = add("X", price, quantity, side)[0]
            if order.leaves_qty and order.order_id in book.order_id_map:
                cancel(order.order_id, "X")

        def withdraw(order_id: int) -> None:
            cancel(ids.pop(order_id), "X")

        calls: list[Call] = []
        for kind, order_id, _user, side, price, quantity in stream:
            if kind == CANCEL:
                calls.append((withdraw, order_id))
            elif kind == LIMIT_GTC:
                calls.append((rest, (order_id, price, quantity, sides[side])))
            else:
                calls.append((immediate, (price if kind == LIMIT_IOC else 0, quantity, sides[side])))
        return calls

    def top(self, levels: int) -> Top:
        book = self.book

        def side(depth: dict[int, list[Any]], best_first: bool) -> Levels:
            prices = sorted(depth, reverse=best_first)[:levels]
            return [(p, sum(o.leaves_qty for o in depth[p]), len(depth[p])) for p in prices]

        return side(book.bids, True), side(book.asks, False)


class FastLob(Adapter):
    name = "fastlob"
    distribution = "fastlob"
    notes = (
        "GTC and FOK only: IOC = GTC + cancel of the rested remainder; MARKET = a limit at its "
        "extreme price + cancel of the remainder; its GTD-expiry thread runs (started, as it requires)",
    )

    def __init__(self) -> None:
        self.lib = importlib.import_module("fastlob")
        self.book = self.lib.Orderbook("X")
        self.book.start()
        self.ids: dict[int, str] = {}

    def prepare(self, stream: list[Command]) -> list[Call]:
        lib = self.lib
        process, cancel, ids = self.book.process, self.book.cancel, self.ids
        sides = (lib.OrderSide.BID, lib.OrderSide.ASK)
        extreme = (10**10, importlib.import_module("fastlob.consts").TICK_SIZE_PRICE)

        def rest(args: tuple[int, Any]) -> None:
            order_id, params = args
            ids[order_id] = process(params).orderid()

        def immediate(params: Any) -> None:
            result = process(params)
            if result.kind().in_limit():
                cancel(result.orderid())

        def withdraw(order_id: int) -> None:
            cancel(ids.pop(order_id))

        calls: list[Call] = []
        for kind, order_id, _user, side, price, quantity in stream:
            if kind == CANCEL:
                calls.append((withdraw, order_id))
                continue
            params = lib.OrderParams(sides[side], price if kind != MARKET else extreme[side], quantity)
            calls.append((rest, (order_id, params)) if kind == LIMIT_GTC else (immediate, params))
        return calls

    def top(self, levels: int) -> Top:
        def side(rows: list[tuple[Any, Any, int]]) -> Levels:
            return [(int(price), int(volume), count) for price, volume, count in rows]

        return side(self.book.best_bids(levels)), side(self.book.best_asks(levels))

    def close(self) -> None:
        self.book.stop()


class CythonOrderbook(Adapter):
    name = "cython-orderbook"
    distribution = "cython-orderbook"
    notes = ("compiled (Cython) reference; no IOC: IOC = limit + cancel of the rested remainder",)

    def __init__(self) -> None:
        self.lib = importlib.import_module("cython_orderbook")
        self.book = self.lib.OrderBook()

    def prepare(self, stream: list[Command]) -> list[Call]:
        lib, book = self.lib, self.book
        sides = (lib.OrderSide.BID, lib.OrderSide.ASK)
        add_limit, add_market, cancel = book.add_limit_order, book.add_market_order, book.cancel_order
        ids: dict[int, str] = {}

        def immediate(order: Any) -> None:
            add_limit(order)
            if order.remaining_quantity:
                cancel(order.order_id)

        calls: list[Call] = []
        for kind, order_id, _user, side, price, quantity in stream:
            if kind == CANCEL:
                calls.append((cancel, ids[order_id]))
            elif kind == MARKET:
                calls.append((add_market, lib.Order(sides[side], quantity)))
            else:
                order = lib.Order(sides[side], quantity, price)
                ids[order_id] = order.order_id
                calls.append((add_limit, order) if kind == LIMIT_GTC else (immediate, order))
        return calls

    def top(self, levels: int) -> Top:
        def side(depth: Any) -> Levels:
            rows = []
            for price, level in depth.items():
                if level.queue:  # it can keep an emptied level until a taker reaches it
                    live = list(level.queue.values())
                    rows.append((int(price), sum(o.remaining_quantity for o in live), len(live)))
            return rows[:levels]

        return side(self.book.bids), side(self.book.asks)


class Liquibook(Adapter):
    name = "liquibook"
    distribution = "liquibook"
    notes = (
        "compiled (C++ via SWIG) reference; IOC and MARKET (price 0) go to add(order, "
        "oc_immediate_or_cancel); a Python order listener gets every callback and applies each fill to "
        "both orders, as liquibook's example listener does",
    )

    def __init__(self) -> None:
        lib = self.lib = importlib.import_module("liquibook")
        self.fills: list[tuple[int, int]] = []
        fills = self.fills

        class Listener(lib.OrderListener):  # type: ignore[misc,name-defined]
            def on_accept(self, order: Any) -> None:
                pass

            def on_reject(self, order: Any, reason: Any) -> None:
                pass

            def on_fill(self, order: Any, matched: Any, quantity: int, cost: int) -> None:
                # as liquibook's own example listener does: the orders' open quantities live in Python
                order.fill(quantity, cost, 0)
                matched.fill(quantity, cost, 0)
                fills.append((quantity, cost))

            def on_cancel(self, order: Any) -> None:
                pass

            def on_cancel_reject(self, order: Any, reason: Any) -> None:
                pass

            def on_replace(self, order: Any, size_delta: Any, new_price: Any) -> None:
                pass

            def on_replace_reject(self, order: Any, reason: Any) -> None:
                pass

        self.listener = Listener()
        self.book = lib.DepthOrderBook()
        self.book.set_order_listener(self.listener)

    def prepare(self, stream: list[Command]) -> list[Call]:
        lib, book = self.lib, self.book
        orders: dict[int, Any] = {}
        add, withdraw = book.add, book.cancel
        plain, immediate = lib.oc_no_conditions, lib.oc_immediate_or_cancel

        def place(args: tuple[Any, int]) -> None:
            add(*args)

        calls: list[Call] = []
        for kind, order_id, _user, side, price, quantity in stream:
            if kind == CANCEL:
                calls.append((withdraw, orders.pop(order_id)))
                continue
            order = lib.SimpleOrder(side == 0, price, quantity)
            if kind == LIMIT_GTC:
                orders[order_id] = order
            calls.append((place, (order, plain if kind == LIMIT_GTC else immediate)))
        return calls

    def top(self, levels: int) -> Top:
        # Built from the order trackers, not liquibook's depth view: that one keeps the quantity of an
        # IOC that joined an existing level without matching (seen on this stream, command 228).
        def side(trackers: Any, best_first: bool) -> Levels:
            quantity: dict[int, int] = {}
            count: dict[int, int] = {}
            for price_key, tracker in trackers.items():
                price = price_key.price()
                quantity[price] = quantity.get(price, 0) + tracker.open_qty()
                count[price] = count.get(price, 0) + 1
            prices = sorted(quantity, reverse=best_first)[:levels]
            return [(price, quantity[price], count[price]) for price in prices]

        return side(self.book.bids(), True), side(self.book.asks(), False)


class OursOn312(Ours):
    """Ours again, on the Python 3.12 that matching-engine needs: shows what the interpreter alone changes."""

    name = "tradestream-py312"


ADAPTERS: dict[str, Callable[[], Adapter]] = {
    "tradestream": Ours,
    "tradestream-py312": OursOn312,
    "matching-engine": MatchingEngine,
    "lightmatchingengine": LightMatchingEngine,
    "fastlob": FastLob,
    "cython-orderbook": CythonOrderbook,
    "liquibook": Liquibook,
}
PURE_PYTHON = ("matching-engine", "lightmatchingengine", "fastlob")
COMPILED = ("cython-orderbook", "liquibook")


def quiet_logging() -> None:
    """fastlob logs every order; nobody reads it here, and no engine should pay for a handler."""
    logging.disable(logging.CRITICAL)
