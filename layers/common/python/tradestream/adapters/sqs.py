"""The ticker lanes on SQS FIFO: MessageGroupId = ticker, MessageDeduplicationId = the command's id."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from tradestream.contracts import OrderCancelRequestedV1, OrderPlacedV1
from tradestream.errors import LaneUnavailable
from tradestream.lane.ports import DeadLetters
from tradestream.orders.ports import Lane


class _Queue:
    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        self._queue_url = queue_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:  # built on first use, not at import: cold starts that never send pay nothing
            self._client = boto3.client("sqs")
        return self._client


class SqsLane(_Queue, Lane):
    def send(self, command: OrderPlacedV1 | OrderCancelRequestedV1) -> None:
        try:
            self.client.send_message(
                QueueUrl=self._queue_url,
                MessageBody=command.model_dump_json(by_alias=True),
                MessageGroupId=command.ticker,
                MessageDeduplicationId=command.command_id,
            )
        except (BotoCoreError, ClientError) as exc:
            raise LaneUnavailable(f"the {command.ticker} lane did not accept the command") from exc


class SqsDeadLetters(_Queue, DeadLetters):
    """Where the matching function parks poison messages, with the reason, so the lane keeps moving."""

    def send(self, *, body: str, reason: str, message_id: str, group_id: str | None) -> None:
        fifo = self._queue_url.endswith(".fifo")
        self.client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body or "(empty)",
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": reason[:1000] or "unknown"},
                "sourceMessageId": {"DataType": "String", "StringValue": message_id},
            },
            **(
                {"MessageGroupId": group_id or "poison", "MessageDeduplicationId": message_id} if fifo else {}
            ),
        )
