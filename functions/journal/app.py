"""Journal projection: two immutable transaction rows per trade.executed.v1, and guarded per-user counts."""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tradestream.adapters.dynamodb.journal import DynamoTransactionStore
from tradestream.adapters.sqs import SqsDeadLetters
from tradestream.contracts import MatchingBatchV1
from tradestream.heap import warm_heap
from tradestream.observability import logger
from tradestream.projections.journal import project_journal
from tradestream.projections.runner import run_projection
from tradestream.settings import JournalSettings


@functools.cache
def settings() -> JournalSettings:
    return JournalSettings.from_env()


@functools.cache
def store() -> DynamoTransactionStore:
    s = settings()
    return DynamoTransactionStore(s.transactions_table, s.transaction_counts_table)


def apply(entries: list[MatchingBatchV1]) -> None:
    outcome = project_journal(entries, store())
    logger.debug(
        "journal written", extra={"entries": len(entries), "rows": outcome.rows, "counted": outcome.counted}
    )


@warm_heap
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_projection(event, context, apply=apply, dead_letters=SqsDeadLetters(settings().dlq_url))
