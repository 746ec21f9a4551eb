"""Pure portfolio projection: weighted-average-cost positions (shorts included), valuation, journal replay."""

from tradestream.portfolio.errors import InvalidFill, InvalidPosition, StaleFill
from tradestream.portfolio.journal import JournalRow, replay_journal
from tradestream.portfolio.position import Fill, Position, SeqKey, Side, apply_fill, fold_fills
from tradestream.portfolio.rounding import MONEY_PLACES, MONEY_ROUNDING, round_money
from tradestream.portfolio.valuation import Summary, Valuation, summary, valuation

__all__ = [
    "MONEY_PLACES",
    "MONEY_ROUNDING",
    "Fill",
    "InvalidFill",
    "InvalidPosition",
    "JournalRow",
    "Position",
    "SeqKey",
    "Side",
    "StaleFill",
    "Summary",
    "Valuation",
    "apply_fill",
    "fold_fills",
    "replay_journal",
    "round_money",
    "summary",
    "valuation",
]
