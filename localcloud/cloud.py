"""The local cloud as one object: moto's server, provisioned resources, function pools, pollers, the API."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from localcloud import template as template_loader
from localcloud.apigateway import ApiGateway
from localcloud.apiserver import ApiServer
from localcloud.errors import LocalCloudError, PortInUse
from localcloud.faults import ENV as FAULTS_ENV
from localcloud.faults import FaultPlan
from localcloud.functions import FunctionPool
from localcloud.intrinsics import REGION
from localcloud.pollers import KinesisShardPoller, SchedulePoller, SqsPoller, StreamSignals, _Poller
from localcloud.resources import LocalResources, client
from localcloud.tablerouter import table_routes
from localcloud.wiring import RestApi, Wiring, wire

log = logging.getLogger("localcloud")
_RECYCLE = re.compile(r"^/_localcloud/functions/(?P<name>[^/]+)/recycle$")
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when its parent dies (None elsewhere).

    Resolved before the fork, so the child only calls into libc. Linux delivers the signal when the
    *thread* that forked the child ends: start the local cloud from a thread that lives as long as it.
    """
    name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or name is None:
        return None
    prctl = ctypes.CDLL(name, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def stop_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent exits (no-op elsewhere).

    `make run` keeps make as our parent: if make is killed rather than interrupted, the local cloud
    still gets its SIGTERM and stops everything it started instead of lingering on the ports.
    """
    name = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and name is not None:
        ctypes.CDLL(name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class Settings:
    template: Path
    host: str = "127.0.0.1"
    aws_port: int = 4566
    api_port: int = 3000
    stack_name: str = "tradestream-local"
    parameters: dict[str, str] = field(default_factory=dict)
    ssm_parameters: dict[str, str] = field(default_factory=dict)  # name -> value, SecureString
    external_endpoint: str | None = None  # use an already running moto/LocalStack instead of starting one
    # DynamoDB in a moto process of its own on this port (0: any free one), so that two processes share
    # the emulator's work instead of one GIL; the functions call it directly and aws_port relays the
    # DynamoDB calls of everyone else to it (localcloud/forward.py). None: one moto serves everything.
    dynamodb_port: int | None = None
    # With dynamodb_port: each of the template's tables in a moto process of its own behind DynamoDB's
    # (localcloud/tablerouter.py), as on AWS, where one table's load never slows another's calls.
    dynamodb_per_table: bool = False
    # Workers per function. AWS allows an account 1,000 at once; on two cores 8 was measured better than 4
    # (the orders function serves POSTs, cancels and the probes' GETs: at 15 orders/s, POST -> final p50
    # 241 -> 183 ms, p99 567 -> 478 ms), and a pool only grows when that many invocations overlap.
    function_concurrency: int = 8
    # One poller per queue: the matching function runs a batch's tickers side by side, and with one
    # poller a ticker's batches reach the same warm worker, whose cached book is then current (with two,
    # a ticker's batches alternated between workers and most commits met a stale book).
    sqs_pollers_per_source: int = 1
    start_pollers: bool = True
    prewarm: bool = False  # `run` turns it on; tests keep cold starts where they measure them
    start_api: bool = True
    # Opt-in fault injection (localcloud/faults.py); LOCALCLOUD_FAULTS=<json plan> turns it on for `run`.
    faults: FaultPlan | None = field(default_factory=FaultPlan.from_env)
    # Overrides every queue's VisibilityTimeout, so a failed batch comes back in seconds (fault tests).
    queue_visibility_timeout: int | None = None


def ensure_port_free(host: str, port: int) -> None:
    """Raise PortInUse if something listens on host:port.

    SO_REUSEADDR as the servers themselves bind: connections of a server that just stopped linger in
    TIME_WAIT, and they must not make the next start fail.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"{host}:{port} is already in use; stop what holds it (`ss -ltnp | grep {port}`) "
                f"or choose another port (LOCALCLOUD_AWS_PORT / LOCALCLOUD_API_PORT)"
            ) from exc


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct free ports: each stays bound until all are picked, so none is picked twice."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_for_port(
    host: str, port: int, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise LocalCloudError(f"the process serving {host}:{port} exited with {process.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise LocalCloudError(f"nothing answered on {host}:{port} within {timeout:.0f}s")


def freeze_heap() -> None:
    """For a process that serves the local cloud until it stops: keep the garbage collector's full
    collections off what start() built (the template, clients and service models of every poller).
    The first one walked it all while holding the GIL: 140-160 ms with the API edge and every poller
    stopped, measured under the benchmark. Not in start() itself: tests start many clouds in one
    process, whose objects must stay collectable. See tradestream/heap.py for the functions' side."""
    gc.freeze()


class LocalCloud:
    """Start with `start()`, stop with `stop()`; or use it as a context manager."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.endpoint = settings.external_endpoint or f"http://{settings.host}:{settings.aws_port}"
        self._moto: subprocess.Popen[bytes] | None = None
        self._dynamodb: subprocess.Popen[bytes] | None = None
        self._table_motos: list[subprocess.Popen[bytes]] = []
        self.dynamodb_endpoint: str | None = None  # set when DynamoDB has a moto process of its own
        self.dynamodb_tables: dict[str, str] = {}  # table name -> its own moto (dynamodb_per_table)
        self._api_server: ApiServer | None = None
        self.pollers: list[_Poller] = []
        self.pools: dict[str, FunctionPool] = {}
        self.resources: LocalResources | None = None
        self.wiring: Wiring | None = None
        self.gateway: ApiGateway | None = None
        self.faults: FaultPlan | None = None  # the plan in force, with its state_dir
        self._fault_dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.api_port}"

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        s = self.settings
        template = template_loader.load(s.template, s.parameters)
        if s.external_endpoint is not None and s.dynamodb_port is not None:
            raise LocalCloudError("a DynamoDB port is only for the moto the local cloud starts itself")
        if s.dynamodb_per_table and s.dynamodb_port is None:
            raise LocalCloudError("a moto per table needs DynamoDB in a moto of its own (dynamodb_port)")
        if s.start_api:
            ensure_port_free(s.host, s.api_port)
        if s.external_endpoint is None:
            tables = len(template.of_type("AWS::DynamoDB::Table")) if s.dynamodb_per_table else 0
            self._start_moto(tables)
        self.resources = LocalResources(template, stack_name=s.stack_name, endpoint=self.endpoint)
        self.resources.provision()
        if self._table_motos and self.dynamodb_endpoint:
            self.dynamodb_tables = table_routes(self.dynamodb_endpoint)
        self._shorten_visibility()
        self._seed_ssm()
        self.wiring = wire(self.resources)
        self.faults = self._fault_plan()
        base_env = self.function_environment()
        concurrency = s.function_concurrency
        self.pools = {
            lid: FunctionPool(
                spec,
                base_env=base_env,
                dynamodb_tables=self.dynamodb_tables,
                concurrency=concurrency,
                recycle_every=self.faults.cold_start_every_for(lid) if self.faults else 0,
            )
            for lid, spec in self.wiring.functions.items()
        }
        if s.start_pollers:
            self.start_pollers()
        if s.start_api:
            self._start_api()
        if s.prewarm:
            # In the background and one at a time: the API answers at once, the first requests find
            # warm workers, and twelve simultaneous interpreter starts do not starve two cores.
            threading.Thread(target=self._prewarm, name="prewarm", daemon=True).start()

    def _fault_plan(self) -> FaultPlan | None:
        plan = self.settings.faults
        if plan is None or plan.state_dir is not None:
            return plan
        self._fault_dir = tempfile.TemporaryDirectory(prefix="localcloud-faults-")
        return plan.model_copy(update={"state_dir": self._fault_dir.name})

    def _shorten_visibility(self) -> None:
        timeout = self.settings.queue_visibility_timeout
        if timeout is None:
            return
        assert self.resources is not None
        sqs = client("sqs", self.endpoint)
        for logical_id in self.resources.template.of_type("AWS::SQS::Queue"):
            url = str(self.resources.attribute(logical_id, "Ref"))
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(timeout)})

    def _prewarm(self) -> None:
        self.prewarm(1)

    def prewarm(self, workers: int) -> None:
        """Start `workers` workers of every function now (the benchmark measures warm functions)."""
        # Two interpreters start at once on two cores; more would only share them.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="prewarm") as starting:
            list(starting.map(lambda pool: pool.prewarm(workers), list(self.pools.values())))

    def function_environment(self) -> dict[str, str]:
        """What every function sees besides its own variables: credentials, region, the endpoint."""
        return {
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_ENDPOINT_URL": self.endpoint,
            # botocore's per-service endpoint: straight to DynamoDB's own moto, not through the relay
            **({"AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint} if self.dynamodb_endpoint else {}),
            # No X-Ray daemon runs locally; the tracer would only warn on every segment.
            "POWERTOOLS_TRACE_DISABLED": "true",
            "LOCALCLOUD": "1",
            **({FAULTS_ENV: self.faults.to_env()} if self.faults else {}),
        }

    def _start_moto(self, table_motos: int) -> None:
        """Start moto (and DynamoDB's, and `table_motos` more for DynamoDB's tables, if so configured)."""
        s = self.settings
        ensure_port_free(s.host, s.aws_port)
        forward: list[str] = []
        port = None
        picked = free_ports(table_motos + 1, s.host)
        table_ports = [p for p in picked[:table_motos] if p not in (s.aws_port, s.dynamodb_port)]
        if len(table_ports) < table_motos:
            raise LocalCloudError("could not pick a free port for every table moto")
        self._table_motos = [self._moto_process(p, "--name", "moto-dynamodb-table") for p in table_ports]
        if s.dynamodb_port is not None:
            port = s.dynamodb_port or picked[-1]
            ensure_port_free(s.host, port)
            places = [option for p in table_ports for option in ("--table-moto", f"http://{s.host}:{p}")]
            self._dynamodb = self._moto_process(port, "--name", "moto-dynamodb", *places)
            self.dynamodb_endpoint = f"http://{s.host}:{port}"
            forward = ["--forward", f"dynamodb={self.dynamodb_endpoint}"]
        # Both start at once (each spends a second or two importing moto): the relay connects on the
        # first DynamoDB call, not at start-up.
        self._moto = self._moto_process(s.aws_port, *forward)
        wait_for_port(s.host, s.aws_port, 30, self._moto)
        if port is not None:  # DynamoDB's own moto was started above
            wait_for_port(s.host, port, 30, self._dynamodb)
        for table_port, table_moto in zip(table_ports, self._table_motos, strict=True):
            wait_for_port(s.host, table_port, 60, table_moto)

    def _moto_process(self, port: int, *options: str) -> subprocess.Popen[bytes]:
        s = self.settings
        return subprocess.Popen(
            # moto's server with the FIFO receive fix our functions rely on (see localcloud/motoserver.py)
            [sys.executable, "-m", "localcloud.motoserver", "-H", s.host, "-p", str(port), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
            preexec_fn=_die_with_parent(),  # noqa: PLW1509 - only calls prctl, resolved before the fork
        )

    def _seed_ssm(self) -> None:
        if not self.settings.ssm_parameters:
            return
        ssm = client("ssm", self.endpoint)
        for name, value in self.settings.ssm_parameters.items():
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)

    def start_pollers(self) -> None:
        """Start polling every enabled event source (at start(), unless Settings.start_pollers is False)."""
        assert self.resources is not None and self.wiring is not None
        if self.pollers:
            raise LocalCloudError("the event sources are already polled")
        res = self.resources
        signals = StreamSignals()
        for source in self.wiring.event_sources:
            if not source.enabled:
                continue
            pool = self.pools[source.function]
            if source.kind == "sqs":
                for _ in range(max(1, self.settings.sqs_pollers_per_source)):
                    self.pollers.append(
                        SqsPoller(
                            source,
                            pool,
                            queue_url=str(res.attribute(source.source, "Ref")),
                            queue_arn=str(res.attribute(source.source, "Arn")),
                            endpoint=self.endpoint,
                            duplicate=bool(self.faults and self.faults.duplicate_deliveries),
                        )
                    )
            else:
                stream_name = res.names[source.source]
                shards = client("kinesis", self.endpoint).list_shards(StreamName=stream_name)["Shards"]
                destination = str(res.attribute(source.on_failure, "Ref")) if source.on_failure else None
                for shard in shards:
                    signal, leader = signals.join(stream_name, shard["ShardId"])
                    self.pollers.append(
                        KinesisShardPoller(
                            source,
                            pool,
                            stream_name=stream_name,
                            stream_arn=str(res.attribute(source.source, "Arn")),
                            shard_id=shard["ShardId"],
                            endpoint=self.endpoint,
                            on_failure_url=destination,
                            signal=signal,
                            leader=leader,
                            duplicate=bool(self.faults and self.faults.duplicate_deliveries),
                        )
                    )
        for schedule in self.wiring.schedules:
            if schedule.enabled:
                self.pollers.append(SchedulePoller(schedule, self.pools[schedule.function]))
        for pool in self.pools.values():
            pool.on_put = signals.put
        for poller in self.pollers:
            poller.start()

    def _start_api(self) -> None:
        assert self.wiring is not None
        if len(self.wiring.apis) > 1:
            raise LocalCloudError(
                f"the local cloud serves exactly one REST API; the template has {len(self.wiring.apis)}"
            )
        # Without a REST API in the template the port still serves the local cloud's own routes.
        api = self.wiring.apis[0] if self.wiring.apis else RestApi("", "", (), {}, {}, ())
        self.gateway = ApiGateway(api, self.pools, self._admin)
        s = self.settings
        self._api_server = ApiServer(self.gateway, s.host, s.api_port)
        self._api_server.start()

    def _admin(self, request: Request) -> Response | None:
        """The local cloud's own routes, under /_localcloud/ (never a path of the template)."""
        if not request.path.startswith("/_localcloud/"):
            return None
        match = _RECYCLE.match(request.path)
        if match and request.method == "POST":
            try:
                self.recycle(match.group("name"))
            except LocalCloudError as exc:
                return Response(f'{{"message": "{exc}"}}', 404, mimetype="application/json")
            return Response(b'{"recycled": true}', 200, mimetype="application/json")
        return Response(b'{"message": "not found"}', 404, mimetype="application/json")

    def recycle(self, name: str) -> None:
        """Force cold starts of one function (by logical id or physical name)."""
        assert self.wiring is not None
        spec = self.wiring.function_by_name(name)
        self.pools[spec.logical_id].recycle()
        log.info("recycled %s: its next invocation is a cold start", spec.logical_id)

    def invoke(self, name: str, event: Any) -> Any:
        assert self.wiring is not None
        return self.pools[self.wiring.function_by_name(name).logical_id].invoke(event)

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        if self._api_server is not None:
            self._api_server.stop()
            self._api_server = None
        for poller in self.pollers:
            poller.join(timeout=5)
        self.pollers = []
        for pool in self.pools.values():
            pool.close()
        motos = [m for m in (self._moto, self._dynamodb, *self._table_motos) if m is not None]
        for moto in motos:
            moto.terminate()
        for moto in motos:
            try:
                moto.wait(timeout=5)
            except subprocess.TimeoutExpired:
                moto.kill()
                moto.wait()
        self._moto = self._dynamodb = None
        self._table_motos = []
        self.dynamodb_endpoint = None
        self.dynamodb_tables = {}
        if self._fault_dir is not None:
            self._fault_dir.cleanup()
            self._fault_dir = None
