"""The pure matching core: one price-time priority order book per ticker, integer ticks and lots only."""

from tradestream.matching.book import OrderBook
from tradestream.matching.commands import MAX_UNITS, NewOrder
from tradestream.matching.enums import OrderStatus, OrderType, Reason, SelfTradePrevention, Side, TimeInForce
from tradestream.matching.events import Event, OrderUpdate, Trade
from tradestream.matching.levels import RestingOrder
from tradestream.matching.snapshot import CorruptSnapshot

__all__ = [
    "MAX_UNITS",
    "CorruptSnapshot",
    "Event",
    "NewOrder",
    "OrderBook",
    "OrderStatus",
    "OrderType",
    "OrderUpdate",
    "Reason",
    "RestingOrder",
    "SelfTradePrevention",
    "Side",
    "TimeInForce",
    "Trade",
]
