"""Opt-in fault injection for the local cloud: what AWS does to a serverless pipeline on a bad day.

A `FaultPlan` (JSON in the LOCALCLOUD_FAULTS environment variable, or `Settings.faults`) turns on:

- duplicate deliveries: the pollers hand every SQS batch and every Kinesis batch to the function twice;
- killed workers: a botocore hook in the function's worker process calls `os._exit` at a chosen API
  call (`after-call.dynamodb.PutItem` on the book log: after the commit, before the Kinesis put), on
  the Nth such call of a worker or with a probability, at most `limit` times across all workers;
- forced cold starts: a function's workers are recycled after every K invocations (batches);
- throttling: a fraction of DynamoDB, SQS and Kinesis calls fail as AWS fails them when it throttles
  (ProvisionedThroughputExceededException / ThrottlingException; PutRecords and BatchWriteItem
  report every record or item as unprocessed instead, as those two APIs do).

The worker-side faults run inside the function's process, as they would on Lambda: `install()` is
called by `localcloud.worker` before the handler is imported and registers the hooks on every botocore
session the process creates (boto3's and pynamodb's alike). The injected errors bypass botocore's own
retries: they stand for throttles that outlasted the SDK's retries, which is what the code must survive.

Every fault that fires appends a line to `<state_dir>/fired.log` (`fired()` counts them), so a test
can prove its fault happened; kill limits are claimed there too, with O_EXCL files shared by all workers.
"""

from __future__ import annotations

import os
import random
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import boto3
import botocore.handlers
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from pydantic import BaseModel, ConfigDict, Field

ENV = "LOCALCLOUD_FAULTS"
KILL_EXIT_CODE = 137  # what a SIGKILLed Lambda runtime reports
THROTTLED_SERVICES = frozenset({"dynamodb", "sqs", "kinesis"})
_THROTTLE_CODES = {"sqs": "ThrottlingException"}  # DynamoDB and Kinesis: ProvisionedThroughputExceeded
_RESOURCE_KEY = "localcloud.faults.resource"
_PARAMS_KEY = "localcloud.faults.params"
_THROTTLED_KEY = "localcloud.faults.throttled"
_RESOURCE_PARAMETERS = ("TableName", "QueueUrl", "StreamName", "StreamARN")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Kill(_Frozen):
    """Kill the worker (os._exit) at a botocore event of the functions named (empty: every function)."""

    name: str
    event: str  # a botocore event: after-call.dynamodb.PutItem, before-call.kinesis.PutRecords, ...
    functions: frozenset[str] = frozenset()
    resource: str | None = None  # part of the call's TableName / QueueUrl / StreamName
    probability: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    nth: Annotated[int | None, Field(ge=1)] = None  # only the Nth matching call of a worker process
    limit: Annotated[int | None, Field(ge=1)] = None  # at most this many kills across all workers


class Throttle(_Frozen):
    """Fail this fraction of the calls to these services from the functions named (empty: every one)."""

    fraction: Annotated[float, Field(ge=0.0, le=1.0)]
    services: frozenset[str] = THROTTLED_SERVICES
    functions: frozenset[str] = frozenset()


class FaultPlan(_Frozen):
    duplicate_deliveries: bool = False
    cold_start_every: Annotated[int, Field(ge=0)] = 0  # recycle a function's workers every K invocations
    cold_start_functions: frozenset[str] = frozenset()  # empty: every function
    kills: tuple[Kill, ...] = ()
    throttle: Throttle | None = None
    seed: int | None = None
    state_dir: str | None = None  # where fired faults are logged and kill limits claimed

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FaultPlan | None:
        raw = (os.environ if environ is None else environ).get(ENV, "").strip()
        return cls.model_validate_json(raw) if raw else None

    def to_env(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    def cold_start_every_for(self, function: str) -> int:
        chosen = not self.cold_start_functions or function in self.cold_start_functions
        return self.cold_start_every if chosen else 0

    def in_worker(self, function: str) -> bool:
        """Whether any fault runs inside this function's worker processes."""
        return any(_applies(k.functions, function) for k in self.kills) or (
            self.throttle is not None and _applies(self.throttle.functions, function)
        )


def _applies(functions: frozenset[str], function: str) -> bool:
    return not functions or function in functions


def fired(state_dir: str | Path) -> Counter[str]:
    """How often each fault fired so far: kill names, `throttle:<service>`, from every worker."""
    path = Path(state_dir) / "fired.log"
    if not path.exists():
        return Counter()
    return Counter(line.split("\t", 1)[0] for line in path.read_text().splitlines() if line)


def record(state_dir: str | None, fault: str, detail: str = "") -> None:
    """Append one fired fault to the log (one short O_APPEND write: lines of processes never mix)."""
    if state_dir is None:
        return
    line = f"{fault}\t{os.getpid()}\t{detail}\n".encode()
    fd = os.open(Path(state_dir) / "fired.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _claim(state_dir: str | None, name: str, limit: int | None) -> bool:
    """Take one of the `limit` shots of a fault, shared by every worker; True when one was free."""
    if limit is None:
        return True
    if state_dir is None:
        raise ValueError(f"kill {name!r} has a limit, so the fault plan needs a state_dir")
    for shot in range(limit):
        try:
            os.close(os.open(Path(state_dir) / f"{name}.{shot}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            continue
        return True
    return False


class Injector:
    """The worker side: botocore handlers that kill the process or throttle the call."""

    def __init__(
        self,
        plan: FaultPlan,
        function: str,
        *,
        exit: Callable[[int], Any] = os._exit,
        rng: random.Random | None = None,
    ) -> None:
        self.plan = plan
        self.function = function
        self.kills = [k for k in plan.kills if _applies(k.functions, function)]
        self.throttle = (
            plan.throttle if plan.throttle and _applies(plan.throttle.functions, function) else None
        )
        self.calls: Counter[str] = Counter()  # matching calls per kill, in this process
        self._exit = exit
        seed = None if plan.seed is None else plan.seed * 1_000_003 + os.getpid()
        self._rng = rng or random.Random(seed)

    @property
    def active(self) -> bool:
        return bool(self.kills or self.throttle)

    def handlers(self) -> list[tuple[str, Callable[..., Any]]]:
        return [
            ("before-parameter-build", self.before_parameter_build),
            ("before-call", self.before_call),
            ("after-call", self.after_call),
        ]

    # --- botocore handlers --------------------------------------------------------------------------
    def before_parameter_build(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """The only event that sees the API parameters: note what the call touches for the later ones."""
        context[_PARAMS_KEY] = params
        context[_RESOURCE_KEY] = next((str(params[key]) for key in _RESOURCE_PARAMETERS if key in params), "")

    def before_call(self, event_name: str, context: dict[str, Any], **_: Any) -> Any:
        self._maybe_kill(event_name, context)
        return self._maybe_throttle(event_name, context)

    def after_call(self, event_name: str, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        # "After the put" means after it succeeded: not after an error, nor after an injected throttle.
        if getattr(http_response, "status_code", 500) < 300 and not context.get(_THROTTLED_KEY):
            self._maybe_kill(event_name, context)

    # --- faults -------------------------------------------------------------------------------------
    def _maybe_kill(self, event_name: str, context: dict[str, Any]) -> None:
        for kill in self.kills:
            if event_name != kill.event:
                continue
            if kill.resource is not None and kill.resource not in context.get(_RESOURCE_KEY, ""):
                continue
            self.calls[kill.name] += 1
            if kill.nth is not None and self.calls[kill.name] != kill.nth:
                continue
            if self._rng.random() >= kill.probability:
                continue
            if not _claim(self.plan.state_dir, kill.name, kill.limit):
                continue
            record(self.plan.state_dir, kill.name, event_name)
            print(f"fault {kill.name!r}: worker {os.getpid()} killed at {event_name}", file=sys.stderr)
            sys.stderr.flush()
            self._exit(KILL_EXIT_CODE)

    def _maybe_throttle(self, event_name: str, context: dict[str, Any]) -> Any:
        throttle = self.throttle
        if throttle is None:
            return None
        _, service, operation = event_name.split(".", 2)
        if service not in throttle.services or self._rng.random() >= throttle.fraction:
            return None
        record(self.plan.state_dir, f"throttle:{service}", operation)
        context[_THROTTLED_KEY] = True
        return throttled_response(service, operation, context.get(_PARAMS_KEY) or {})


def throttled_response(service: str, operation: str, params: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """(http response, parsed) as botocore would get them from a throttling AWS endpoint.

    Returned from a before-call handler, botocore skips the request and raises the modeled error
    (e.g. DynamoDB.Client.exceptions.ProvisionedThroughputExceededException) for a 400, or hands the
    caller the parsed body for a 200, as it would for the real response.
    """
    code = _THROTTLE_CODES.get(service, "ProvisionedThroughputExceededException")
    message = "Rate exceeded (injected by the local cloud)"
    if service == "kinesis" and operation == "PutRecords":
        records = params.get("Records") or []
        parsed: dict[str, Any] = {
            "FailedRecordCount": len(records),
            "Records": [{"ErrorCode": code, "ErrorMessage": message} for _ in records],
        }
        status = 200
    elif service == "dynamodb" and operation == "BatchWriteItem":
        parsed = {"UnprocessedItems": dict(params.get("RequestItems") or {})}
        status = 200
    else:
        parsed = {"Error": {"Code": code, "Message": message}}
        status = 400
    parsed["ResponseMetadata"] = {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0}
    return AWSResponse("http://localcloud.faults/", status, HTTPHeaders(), None), parsed


def install(function: str, environ: Mapping[str, str] | None = None) -> Injector | None:
    """Called in a worker before its handler is imported: hooks every botocore session it will create."""
    plan = FaultPlan.from_env(environ)
    if plan is None:
        return None
    injector = Injector(plan, function)
    if not injector.active:
        return None
    # Every Session registers BUILTIN_HANDLERS when it is made, and every client copies its session's
    # handlers: so pynamodb's own sessions get the hooks too, not only boto3's default one.
    botocore.handlers.BUILTIN_HANDLERS.extend(injector.handlers())
    if boto3.DEFAULT_SESSION is not None:
        for event, handler in injector.handlers():
            boto3.DEFAULT_SESSION.events.register(event, handler)
    return injector
