"""Trading bots: simulated users driving the platform through its public HTTP API only.

`python -m tradestream.bots` runs them from the command line; `Fleet`, `Plan` and `Run` are what the
end-to-end benchmark (bench/e2e) drives phase by phase.
"""

from tradestream.bots.plan import DEFAULT_MIX, Action, Persona, Place, Plan, personas, tickers
from tradestream.bots.simulation import Fleet, Run, RunResult, settled, wait_for_quiescence

__all__ = [
    "DEFAULT_MIX",
    "Action",
    "Fleet",
    "Persona",
    "Place",
    "Plan",
    "Run",
    "RunResult",
    "personas",
    "settled",
    "tickers",
    "wait_for_quiescence",
]
