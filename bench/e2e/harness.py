"""The pieces of the end-to-end benchmark: the local cloud child, phases of bot load, drains, CPU."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from localcloud import callcount
from localcloud.cloud import free_port
from tradestream.bots import Fleet, Plan, Run, RunResult, settled
from tradestream.bots.client import Api
from tradestream.bots.stats import percentile

ROOT = Path(__file__).resolve().parents[2]
TICKS = os.sysconf("SC_CLK_TCK")


class Cloud:
    """`bench/e2e/cloud.py` as a child on free ports, its AWS calls counted into `counts`."""

    def __init__(
        self,
        results: Path,
        *,
        stack_name: str = "tradestream-local",
        dynamodb_moto: bool = False,
        dynamodb_per_table: bool = False,
        options: Sequence[str] = (),
    ) -> None:
        self.results = results
        self.options = list(options)  # more of bench/e2e/cloud.py's flags: the settings a run varies
        self.counts = results / "calls"
        self.stack_name = stack_name
        self.aws_port = free_port()
        self.api_port = free_port()
        self.dynamodb_port = free_port() if dynamodb_moto or dynamodb_per_table else None
        self.dynamodb_per_table = dynamodb_per_table
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    @property
    def dynamodb_endpoint(self) -> str | None:
        """DynamoDB's own moto, as the functions reach it (None: the one moto serves it)."""
        return None if self.dynamodb_port is None else f"http://127.0.0.1:{self.dynamodb_port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.aws_port}"

    def start(self, timeout: float = 300.0) -> None:
        self.counts.mkdir(parents=True, exist_ok=True)
        log = (self.results / "cloud.log").open("wb")
        env = {**os.environ, callcount.ENV: str(self.counts), "POWERTOOLS_LOG_LEVEL": "WARNING"}
        env.pop("AWS_ENDPOINT_URL", None)
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "e2e" / "cloud.py"),
                f"--aws-port={self.aws_port}",
                f"--api-port={self.api_port}",
                f"--stack-name={self.stack_name}",
                *([f"--dynamodb-port={self.dynamodb_port}"] if self.dynamodb_port else []),
                *(["--dynamodb-per-table"] if self.dynamodb_per_table else []),
                *self.options,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the local cloud exited with {self.process.returncode}; see {log.name}")
            # READY comes after every function's workers have started (bench/e2e/cloud.py); the API
            # answers before that, while two cores are still busy starting interpreters.
            if b"READY" in Path(log.name).read_bytes():
                requests.get(f"{self.api}/actuator/health", timeout=5).raise_for_status()
                return
            time.sleep(0.5)
        raise RuntimeError(f"the local cloud did not answer within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def totals(self) -> dict[str, callcount.CallTotals]:
        time.sleep(callcount.FLUSH_SECONDS * 1.5)  # every process has written its latest counts
        return callcount.read_by_label(self.counts)


def lane_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


# --- CPU time of every process of the run ----------------------------------------------------------

# The local cloud is idle when its processes together use less than this (its pollers alone use
# about 0.05 of a core; any step's load uses 0.5 or more).
SETTLED_CORES = 0.2
BENCH_PROCESS = "bench process: bots + probes"


def _machine_ticks() -> tuple[int, int]:
    """(all CPU ticks, steal ticks) of the machine so far, from the first line of /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    values = [int(v) for v in fields]  # user nice system idle iowait irq softirq steal
    return sum(values), values[7]


class StealSampler(threading.Thread):
    """Each second, the share of the machine's CPU time the hypervisor gave to others (steal). A stall
    of every process at once while steal is up is the host's, not the pipeline's."""

    def __init__(self) -> None:
        super().__init__(name="steal-sampler", daemon=True)
        self.samples: list[tuple[float, float]] = []  # (wall time at the second's end, steal share)
        self._stopping = threading.Event()

    def run(self) -> None:
        last = _machine_ticks()
        while not self._stopping.wait(1.0):
            now = _machine_ticks()
            total = now[0] - last[0]
            self.samples.append((time.time(), (now[1] - last[1]) / total if total else 0.0))
            last = now

    def stop(self) -> list[tuple[float, float]]:
        self._stopping.set()
        self.join()
        return self.samples


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _moto_label(cmdline: bytes) -> str:
    if b"moto-dynamodb-table" in cmdline:
        return "moto: DynamoDB tables"
    return "moto: DynamoDB" if b"moto-dynamodb" in cmdline else "moto"


def cpu_by_process(root: int, counts: Path) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of the cloud child and each descendant (pid -> (what it is, seconds)), and of
    this process under pid 0."""
    parents: dict[int, int] = {}
    seconds: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)], seconds[int(entry.name)] = stat
    labels = callcount.pids_by_label(counts)
    result: dict[int, tuple[str, float]] = {}
    for pid, cpu in seconds.items():
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor != root:
            continue
        if pid == root:
            result[pid] = ("localcloud: API edge + pollers", cpu)
        elif pid in labels:
            result[pid] = (f"function: {labels[pid]}", cpu)
        else:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                cmdline = b""
            result[pid] = (_moto_label(cmdline) if b"motoserver" in cmdline else "other", cpu)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result[0] = (BENCH_PROCESS, usage.ru_utime + usage.ru_stime)
    return result


def cpu_between(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds spent between two readings, by what the processes are. A process that exited in
    between (a recycled worker) is missing from `after`: its last seconds are not counted."""
    spent: defaultdict[str, float] = defaultdict(float)
    for pid, (label, cpu) in after.items():
        spent[label] += cpu - before.get(pid, (label, 0.0))[1]
    return dict(spent)


# --- phases ------------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    result: RunResult
    drain: float | None  # seconds after the last answer until everything was final or resting
    calls: dict[str, callcount.CallTotals]
    cpu: dict[str, float]  # CPU seconds per process kind during the phase
    wall_start: datetime
    wall_end: datetime
    notes: list[str] = field(default_factory=list)
    settle: float | None = None  # seconds waited for the pipeline to go idle before the step
    steal: list[tuple[float, float]] = field(default_factory=list)  # StealSampler's seconds of the step

    @property
    def offered(self) -> float:
        return self.result.rate

    @property
    def seconds(self) -> float:
        """From the first action to the moment everything was final or resting."""
        return (self.result.ended - self.result.started) + (self.drain or 0.0)

    @property
    def completed_rate(self) -> float:
        return self.result.accepted / self.seconds if self.drain is not None else 0.0

    @property
    def keeps_up(self) -> bool:
        """The API answered every action within the step (no backlog at the bots), nearly all of them
        were accepted, and the pipeline drained promptly after the last one: it processed at least
        ~90% of what was offered, as it was offered."""
        if self.drain is None:
            return False
        result = self.result
        accepted_enough = result.accepted >= 0.95 * result.scheduled
        answered_in_time = result.ended - result.started <= 1.1 * result.duration + 1.0
        return accepted_enough and answered_in_time and self.drain <= max(2.5, 0.1 * result.duration)

    @property
    def holds(self) -> bool:
        """Kept up over a long run, strictly: the API took at least 98% of what was offered and the
        pipeline was less than 2.5 s behind at the end. keeps_up's allowance (a drain of a tenth of the
        step) absorbs a short step's noise, but over two minutes it let a run that finished 9.1 s behind,
        completing 93% of the rate offered, count as keeping up (run 33)."""
        result = self.result
        return self.keeps_up and result.accepted >= 0.98 * result.scheduled and (self.drain or 0.0) <= 2.5

    def latency(self, kind: str, q: float) -> float | None:
        samples = {
            "final": self.result.stats.latencies.to_final,
            "position": self.result.stats.latencies.to_position,
            "post": self.result.stats.latencies.post,
        }[kind]
        return percentile(samples, q)

    def calls_total(self) -> Counter[tuple[str, str]]:
        total: Counter[tuple[str, str]] = Counter()
        for totals in self.calls.values():
            total.update(totals.calls)
        return total


@dataclass(frozen=True)
class Saturation:
    """The saturation rate, the phase that set it and how (bench/e2e/run.py, sustained_saturation)."""

    rate: float
    phase: Phase
    basis: str


def diff(
    after: dict[str, callcount.CallTotals], before: dict[str, callcount.CallTotals]
) -> dict[str, callcount.CallTotals]:
    empty = callcount.CallTotals(calls=Counter(), attempts=Counter())
    return {label: totals - before.get(label, empty) for label, totals in after.items()}


class Bench:
    """One local cloud, one fleet, one plan; phases run one after another, each drained before the next
    and started on an idle pipeline."""

    def __init__(
        self,
        cloud: Cloud,
        fleet: Fleet,
        plan: Plan,
        *,
        sqs: Any,
        lane_url: str,
        workers: int,
        probe_rate: float,
        poll_interval: float,
        show: Callable[[str], None],
    ) -> None:
        self.cloud = cloud
        self.fleet = fleet
        self.plan = plan
        self.sqs = sqs
        self.lane_url = lane_url
        self.workers = workers
        self.probe_rate = probe_rate
        self.poll_interval = poll_interval
        self.show = show
        self.api = Api(fleet.api_url)

    def drain(self, result: RunResult, timeout: float) -> float | None:
        """Seconds until the lane is empty and the last order of every ticker is final or resting.

        One shard, read in order by the order-status projection: once the last order of each ticker
        shows its status, every earlier entry of the stream has been applied to the orders table.
        """
        last: dict[str, tuple[int, str]] = {}
        for user, order_id, ticker in result.placed:
            last[ticker] = (user, order_id)
        # From the last answer, not from now: the probes have been waiting for their orders since then,
        # and a lane that emptied while they did still had that backlog (timed from here, a step whose
        # lane held five seconds of orders "drained in 0.4 s" and kept up).
        while time.monotonic() - result.ended < timeout:
            if lane_depth(self.sqs, self.lane_url) == 0 and all(
                self._settled(user, order_id) for user, order_id in last.values()
            ):
                return time.monotonic() - result.ended
            time.sleep(0.25)  # each pass costs a queue read and a GET per ticker
        return None

    def _settled(self, user: int, order_id: str) -> bool:
        response = self.api.order(self.fleet.users[user], order_id)
        return response.status_code == 200 and settled(response.json())

    def settle(self, timeout: float = 300.0) -> float | None:
        """Seconds until the local cloud's processes used under SETTLED_CORES over one second (None after
        `timeout`). A step's drain waits for order status only: the journal, portfolio and market-data
        projections may still be working off an overloaded step's records, on the CPU the next step
        would be measured on."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            before = self._cpu()
            time.sleep(1.0)
            spent = cpu_between(before, self._cpu())
            spent.pop(BENCH_PROCESS, None)
            if sum(spent.values()) < SETTLED_CORES:
                return time.monotonic() - started
        return None

    def phase(self, name: str, rate: float, seconds: float, *, drain_timeout: float = 600.0) -> Phase:
        settled_after = self.settle()
        self.show(
            f"--- {name}: {rate:.1f} orders/s offered for {seconds:.0f}s "
            f"(pipeline idle after {'-' if settled_after is None else f'{settled_after:.0f}'} s)"
        )
        before = self.cloud.totals()
        cpu_before = self._cpu()
        wall_start = datetime.now(UTC)
        run = Run(
            self.fleet,
            self.plan,
            rate=rate,
            duration=seconds,
            workers=self.workers,
            probe_rate=self.probe_rate,
            poll_interval=self.poll_interval,
            progress=self.show,
        )
        sampler = StealSampler()
        sampler.start()
        result = run.execute()
        drained = self.drain(result, timeout=drain_timeout)
        steal = sampler.stop()
        wall_end = datetime.now(UTC)
        calls = diff(self.cloud.totals(), before)
        cpu = cpu_between(cpu_before, self._cpu())
        phase = Phase(
            name, result, drained, calls, cpu, wall_start, wall_end, settle=settled_after, steal=steal
        )
        self.show(
            f"    accepted {result.accepted}/{result.scheduled} ({result.accepted_rate:.1f}/s), "
            f"drained in {'-' if drained is None else f'{drained:.1f}s'}, "
            f"completed {phase.completed_rate:.1f}/s, final p99 {_ms(phase.latency('final', 0.99))}, "
            f"keeps up: {phase.keeps_up}"
        )
        return phase

    def _cpu(self) -> dict[int, tuple[str, float]]:
        assert self.cloud.process is not None
        return cpu_by_process(self.cloud.process.pid, self.cloud.counts)

    def idle(self, seconds: float) -> dict[str, callcount.CallTotals]:
        """Calls the idle pipeline makes (pollers) over `seconds`."""
        before = self.cloud.totals()
        time.sleep(seconds)
        return diff(self.cloud.totals(), before)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"
