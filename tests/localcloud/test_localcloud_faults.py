"""The worker side of fault injection (localcloud/faults.py), without a cloud: plans, hooks, shots.

Throttled calls never reach the network (the hook answers before botocore sends anything), so the
clients here point at a closed port; kills call an injected `exit` instead of os._exit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import botocore.handlers
import pytest
from botocore.exceptions import ClientError

from localcloud import faults
from localcloud.faults import ENV, KILL_EXIT_CODE, FaultPlan, Injector, Kill, Throttle, fired

CLOSED_PORT = "http://127.0.0.1:9"


class Exited(Exception):
    """What the injected exit raises, so a test sees the kill and carries on."""


def exit_(code: int) -> None:
    raise Exited(code)


def hooked(service: str, injector: Injector) -> Any:
    make: Any = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    ).client
    client = make(service, endpoint_url=CLOSED_PORT)
    for event, handler in injector.handlers():
        client.meta.events.register(event, handler)
    return client


def throttle_all(tmp_path: Path, **kwargs: Any) -> Injector:
    plan = FaultPlan(throttle=Throttle(fraction=1.0, **kwargs), state_dir=str(tmp_path))
    return Injector(plan, "MatchingFunction")


def test_a_throttled_dynamodb_call_raises_the_modeled_exception(tmp_path: Path) -> None:
    dynamodb = hooked("dynamodb", throttle_all(tmp_path))
    with pytest.raises(dynamodb.exceptions.ProvisionedThroughputExceededException):
        dynamodb.put_item(TableName="t", Item={"k": {"S": "v"}})
    assert fired(tmp_path) == {"throttle:dynamodb": 1}


def test_a_throttled_sqs_call_is_a_throttling_exception(tmp_path: Path) -> None:
    sqs = hooked("sqs", throttle_all(tmp_path))
    with pytest.raises(ClientError) as raised:
        sqs.send_message(QueueUrl=f"{CLOSED_PORT}/123456789012/q", MessageBody="x")
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"


def test_put_records_and_batch_write_item_report_everything_unprocessed(tmp_path: Path) -> None:
    injector = throttle_all(tmp_path)
    put = hooked("kinesis", injector).put_records(
        StreamName="s", Records=[{"Data": b"a", "PartitionKey": "p"}, {"Data": b"b", "PartitionKey": "p"}]
    )
    assert put["FailedRecordCount"] == 2
    assert {r["ErrorCode"] for r in put["Records"]} == {"ProvisionedThroughputExceededException"}
    requests = {"t": [{"PutRequest": {"Item": {"k": {"S": "v"}}}}]}
    written = hooked("dynamodb", injector).batch_write_item(RequestItems=requests)
    assert written["UnprocessedItems"] == requests


def test_throttling_spares_other_services_and_other_functions(tmp_path: Path) -> None:
    kinesis_only = throttle_all(tmp_path, services=frozenset({"kinesis"}))
    assert kinesis_only.before_call(event_name="before-call.dynamodb.PutItem", context={}) is None
    other_function = FaultPlan(throttle=Throttle(fraction=1.0, functions=frozenset({"JournalFunction"})))
    assert not Injector(other_function, "MatchingFunction").active


def test_a_throttle_fires_for_about_its_fraction_of_calls(tmp_path: Path) -> None:
    plan = FaultPlan(throttle=Throttle(fraction=0.25), seed=7, state_dir=str(tmp_path))
    injector = Injector(plan, "F")
    throttled = sum(
        injector.before_call(event_name="before-call.dynamodb.GetItem", context={}) is not None
        for _ in range(2000)
    )
    assert 400 < throttled < 600


def calls(injector: Injector, event: str, table: str, times: int, *, status: int = 200) -> list[int]:
    """Drive `times` calls through the hooks; returns the numbers of the calls that killed the worker."""
    killed = []
    for number in range(1, times + 1):
        context: dict[str, Any] = {}
        injector.before_parameter_build(params={"TableName": table}, context=context)
        try:
            operation = event.rsplit(".", 1)[1]
            injector.before_call(event_name=f"before-call.dynamodb.{operation}", context=context)
            response = type("Http", (), {"status_code": status})()
            injector.after_call(
                event_name=f"after-call.dynamodb.{operation}", http_response=response, context=context
            )
        except Exited:
            killed.append(number)
    return killed


def kill_plan(tmp_path: Path, **kill: Any) -> FaultPlan:
    defaults = {"name": "k", "event": "after-call.dynamodb.PutItem", "resource": "BookLogTable"}
    return FaultPlan(kills=(Kill(**{**defaults, **kill}),), state_dir=str(tmp_path))


def test_a_kill_fires_on_the_nth_matching_call_of_a_worker(tmp_path: Path) -> None:
    worker = Injector(kill_plan(tmp_path, nth=3), "MatchingFunction", exit=exit_)
    assert calls(worker, "after-call.dynamodb.GetItem", "s-BookLogTable", 5) == []  # another operation
    assert calls(worker, "after-call.dynamodb.PutItem", "s-BookViewsTable", 5) == []  # another table
    assert calls(worker, "after-call.dynamodb.PutItem", "s-BookLogTable", 5) == [3]
    assert fired(tmp_path) == {"k": 1}


def test_a_kill_after_a_call_waits_for_its_success(tmp_path: Path) -> None:
    worker = Injector(kill_plan(tmp_path), "MatchingFunction", exit=exit_)
    assert calls(worker, "after-call.dynamodb.PutItem", "s-BookLogTable", 3, status=400) == []
    assert calls(worker, "after-call.dynamodb.PutItem", "s-BookLogTable", 1) == [1]


def test_a_kill_before_a_call_fires_before_it_is_sent(tmp_path: Path) -> None:
    plan = kill_plan(tmp_path, event="before-call.dynamodb.PutItem", nth=1)
    dynamodb = hooked("dynamodb", Injector(plan, "MatchingFunction", exit=exit_))
    with pytest.raises(Exited) as exited:
        dynamodb.put_item(TableName="s-BookLogTable", Item={"k": {"S": "v"}})
    assert exited.value.args == (KILL_EXIT_CODE,)


def test_a_kill_limit_is_shared_by_every_worker(tmp_path: Path) -> None:
    plan = kill_plan(tmp_path, limit=2)
    workers = [Injector(plan, "MatchingFunction", exit=exit_) for _ in range(3)]
    killed = [calls(w, "after-call.dynamodb.PutItem", "s-BookLogTable", 4) for w in workers]
    assert killed == [[1, 2], [], []]
    assert fired(tmp_path) == {"k": 2}


def test_a_kill_with_probability_zero_never_fires(tmp_path: Path) -> None:
    worker = Injector(kill_plan(tmp_path, probability=0.0), "MatchingFunction", exit=exit_)
    assert calls(worker, "after-call.dynamodb.PutItem", "s-BookLogTable", 50) == []


def test_a_kill_of_another_function_leaves_this_one_alone(tmp_path: Path) -> None:
    plan = kill_plan(tmp_path, functions=frozenset({"JournalFunction"}))
    assert not Injector(plan, "MatchingFunction").active
    assert plan.in_worker("JournalFunction") and not plan.in_worker("MatchingFunction")


def test_a_limited_kill_needs_a_state_dir() -> None:
    plan = FaultPlan(kills=(Kill(name="k", event="after-call.dynamodb.PutItem", limit=1),))
    worker = Injector(plan, "F", exit=exit_)
    with pytest.raises(ValueError, match="state_dir"):
        calls(worker, "after-call.dynamodb.PutItem", "t", 1)


def test_the_plan_travels_through_the_environment() -> None:
    plan = FaultPlan(
        duplicate_deliveries=True,
        cold_start_every=3,
        cold_start_functions=frozenset({"MatchingFunction"}),
        kills=(Kill(name="k", event="after-call.dynamodb.PutItem", nth=2),),
        throttle=Throttle(fraction=0.1),
    )
    assert FaultPlan.from_env({ENV: plan.to_env()}) == plan
    assert FaultPlan.from_env({}) is None
    assert (plan.cold_start_every_for("MatchingFunction"), plan.cold_start_every_for("JournalFunction")) == (
        3,
        0,
    )


def test_a_plan_with_a_typo_is_refused() -> None:
    with pytest.raises(ValueError, match="duplicate_delivery"):
        FaultPlan.from_env({ENV: '{"duplicate_delivery": true}'})


def test_install_hooks_every_session_the_worker_creates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", list(botocore.handlers.BUILTIN_HANDLERS))
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    plan = FaultPlan(throttle=Throttle(fraction=1.0), state_dir=str(tmp_path))
    assert faults.install("MatchingFunction", {}) is None
    assert faults.install("MatchingFunction", {ENV: plan.to_env()}) is not None
    # A session made afterwards, as pynamodb makes its own: the hooks are in it.
    session = botocore.session.get_session()
    dynamodb: Any = session.create_client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=CLOSED_PORT,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        dynamodb.get_item(TableName="t", Key={"k": {"S": "v"}})
