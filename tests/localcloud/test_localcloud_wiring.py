"""Wiring.latency_tolerant: which functions the local cloud may run below the others on shared cores."""

from __future__ import annotations

import pytest

from localcloud.wiring import AuthorizerSpec, EventSource, RestApi, Route, Schedule, Wiring


def _source(function: str, window: float) -> EventSource:
    return EventSource(
        logical_id=f"{function}Source{window}",
        kind="kinesis",
        function=function,
        source="Stream",
        batch_size=100,
        batching_window_seconds=window,
        report_item_failures=True,
        starting_position="TRIM_HORIZON",
        maximum_retry_attempts=3,
        bisect_on_error=True,
        on_failure=None,
        enabled=True,
    )


def _wiring(
    *, sources: tuple[EventSource, ...] = (), route: str | None = None, authorizer: str | None = None
) -> Wiring:
    authorizers = {"Jwt": AuthorizerSpec("Jwt", authorizer, ("Authorization",), (), 60)} if authorizer else {}
    api = RestApi(
        logical_id="Api",
        stage="Prod",
        routes=(Route("GET", "/x", route, None),),
        authorizers=authorizers,
        gateway_responses={},
        binary_media_types=(),
    )
    schedule = Schedule("Tick", "Scheduled", "arn:aws:events:us-east-1:0:rule/tick", 60.0, True)
    return Wiring(functions={}, apis=(api,), event_sources=sources, schedules=(schedule,))


def test_functions_invoked_only_by_windowed_mappings_or_schedules_can_wait() -> None:
    wiring = _wiring(sources=(_source("Windowed", 1.0), _source("Windowed", 0.5)))
    assert wiring.latency_tolerant("Windowed")
    assert wiring.latency_tolerant("Scheduled")


@pytest.mark.parametrize(
    "wiring",
    [
        _wiring(sources=(_source("F", 0.0),)),  # a mapping without a window: its records are awaited
        _wiring(sources=(_source("F", 1.0), _source("F", 0.0))),  # one caller that waits is enough
        _wiring(sources=(_source("F", 1.0),), route="F"),  # an API route
        _wiring(sources=(_source("F", 1.0),), authorizer="F"),  # every authorized request waits on it
        _wiring(),  # no trigger at all: invoked directly, by someone who waits for the answer
    ],
    ids=["no window", "one mapping without a window", "route", "authorizer", "no trigger"],
)
def test_a_function_some_caller_waits_on_is_not_latency_tolerant(wiring: Wiring) -> None:
    assert not wiring.latency_tolerant("F")
