"""Event contracts that cross a queue or a stream: pydantic models; JSON Schemas generated into contracts/."""

from tradestream.contracts.events import (
    LANE_COMMANDS,
    STREAM_EVENTS,
    LaneCommand,
    MatchingBatchV1,
    OrderCancelRequestedV1,
    OrderPlacedV1,
    OrderUpdatedV1,
    StreamEvent,
    TradeExecutedV1,
    event_id,
    parse_lane_command,
    parse_matching_batch,
    parse_stream_event,
)

__all__ = [
    "LANE_COMMANDS",
    "STREAM_EVENTS",
    "LaneCommand",
    "MatchingBatchV1",
    "OrderCancelRequestedV1",
    "OrderPlacedV1",
    "OrderUpdatedV1",
    "StreamEvent",
    "TradeExecutedV1",
    "event_id",
    "parse_lane_command",
    "parse_matching_batch",
    "parse_stream_event",
]
