"""The template is the only wiring: every function, route and event source in it is served locally."""

from __future__ import annotations

import re
from typing import Any

import requests

from localcloud.cloud import LocalCloud
from localcloud.pollers import KinesisShardPoller, SchedulePoller, SqsPoller
from localcloud.template import load_raw
from tests.support import TEMPLATE

SAMPLE_PATH_VALUES = {"order_id": "00000000-0000-0000-0000-000000000000", "ticker": "AAPL"}


def _sam_functions() -> dict[str, dict[str, Any]]:
    raw = load_raw(TEMPLATE)
    return {k: v for k, v in raw["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def _events(kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (function, name, event["Properties"])
        for function, resource in _sam_functions().items()
        for name, event in resource["Properties"].get("Events", {}).items()
        if event["Type"] == kind
    ]


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\+?\}", lambda m: SAMPLE_PATH_VALUES.get(m.group(1), "x"), path)


def test_every_function_is_served(cloud: LocalCloud) -> None:
    assert cloud.wiring is not None
    assert set(cloud.wiring.functions) == set(_sam_functions())
    for logical_id, spec in cloud.wiring.functions.items():
        assert spec.code_dir.is_dir(), logical_id
        assert (spec.code_dir / "app.py").is_file(), logical_id


def test_every_api_event_is_a_route_with_its_function_and_authorizer(cloud: LocalCloud) -> None:
    assert cloud.wiring is not None
    served = {(r.method, r.path): r for r in cloud.wiring.apis[0].routes if r.function is not None}
    declared = _events("Api")
    assert len(served) == len(declared)
    for function, name, props in declared:
        route = served.get((props["Method"].upper(), props["Path"]))
        assert route is not None, f"{function}.{name} is not served"
        assert route.function == function
        public = props.get("Auth", {}).get("Authorizer") == "NONE"
        assert (route.authorizer is None) == public, f"{function}.{name} authorizer wiring"


def test_every_route_answers_over_http(cloud: LocalCloud, api: str, http: requests.Session) -> None:
    for function, name, props in _events("Api"):
        method, path = props["Method"].upper(), _concrete(props["Path"])
        response = http.request(method, f"{api}{path}", json={} if method == "POST" else None, timeout=60)
        public = props.get("Auth", {}).get("Authorizer") == "NONE"
        if public:
            # The function answered: API Gateway adds x-amzn-ErrorType only to its own responses.
            assert "x-amzn-ErrorType" not in response.headers, f"{function}.{name}: {response.status_code}"
            assert response.status_code < 500, f"{function}.{name}: {response.text}"
        else:
            assert response.status_code == 401, f"{function}.{name} must sit behind the authorizer"
            assert response.json()["code"] == "UNAUTHORIZED"


def test_every_queue_and_stream_event_is_polled(cloud: LocalCloud) -> None:
    assert cloud.wiring is not None
    sources = {(s.function, s.kind, s.source): s for s in cloud.wiring.event_sources}
    declared = [("sqs", *e) for e in _events("SQS")] + [("kinesis", *e) for e in _events("Kinesis")]
    assert len(sources) == len(declared)
    for kind, function, name, props in declared:
        arn = props["Queue"] if kind == "sqs" else props["Stream"]
        if "Fn::If" in arn:  # EnhancedFanOut: the local cloud polls the stream itself (the false branch)
            arn = arn["Fn::If"][2]
        source_id = (
            arn["Fn::GetAtt"][0] if isinstance(arn["Fn::GetAtt"], list) else arn["Fn::GetAtt"].split(".")[0]
        )
        source = sources.get((function, kind, source_id))
        assert source is not None, f"{function}.{name} is not polled"
        assert source.batch_size == props.get("BatchSize", source.batch_size)
        assert source.report_item_failures == (
            "ReportBatchItemFailures" in props.get("FunctionResponseTypes", [])
        )
        if kind == "kinesis":
            assert source.bisect_on_error == props.get("BisectBatchOnFunctionError", False)
            assert source.maximum_retry_attempts == props.get("MaximumRetryAttempts", -1)
            destination = props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"]
            assert source.on_failure == (
                destination[0] if isinstance(destination, list) else destination.split(".")[0]
            )
    polled = {
        (p.source.function, p.source.source)
        for p in cloud.pollers
        if isinstance(p, SqsPoller | KinesisShardPoller)
    }
    assert polled == {(s.function, s.source) for s in cloud.wiring.event_sources}


def test_every_schedule_runs_its_function(cloud: LocalCloud) -> None:
    declared = {(function, props["Schedule"]) for function, _, props in _events("Schedule")}
    assert declared, "the template schedules the reconciler"
    runners = [p for p in cloud.pollers if isinstance(p, SchedulePoller)]
    assert {
        (r.schedule.function, f"rate({int(r.schedule.interval_seconds) // 60} minute)") for r in runners
    } == declared
    reconciler = next(r for r in runners if r.schedule.function == "ReconcilerFunction")
    before = reconciler.pool.invocations
    reconciler.fire()  # what the 1-minute tick does, without waiting a minute
    assert reconciler.pool.invocations == before + 1
