"""Runs each function in its own worker processes: warm state kept, timeouts and crashes contained."""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from localcloud import worker
from localcloud.errors import InvocationError
from localcloud.wiring import FunctionSpec

log = logging.getLogger("localcloud")
_SPAWN = multiprocessing.get_context("spawn")
_INIT_TIMEOUT_SECONDS = 60.0


def _memory_mb(pid: int | None) -> tuple[float, float]:
    """Resident (VmRSS) and peak resident (VmHWM) memory of a process in MB, from one read; 0 if unknown."""
    found = {"VmRSS": 0.0, "VmHWM": 0.0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in found:
                found[name] = int(rest.split()[0]) / 1024
    except OSError:
        pass
    return found["VmRSS"], found["VmHWM"]


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    generation: int

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class FunctionPool:
    """Warm workers of one function; at most `concurrency` invocations run at once."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        base_env: dict[str, str],
        concurrency: int = 4,
        recycle_every: int = 0,
        dynamodb_tables: dict[str, str] | None = None,
    ) -> None:
        self.spec = spec
        self.concurrency = concurrency
        self.recycle_every = recycle_every  # fault injection: force cold starts every N invocations
        # Tables on motos of their own (localcloud/tablerouter.py): the workers call them directly.
        self._dynamodb_tables = dict(dynamodb_tables or {})
        self._env = {
            **base_env,
            **spec.environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
        }
        self._idle: list[_Worker] = []
        self._busy = 0
        self._generation = 0
        self._lock = threading.Condition()
        self._closed = False
        self.cold_starts = 0
        self.invocations = 0
        # Called with a stream's name each time one of this function's Kinesis puts lands.
        self.on_put: Callable[[str], None] | None = None
        self.forced_recycles = 0
        self._since_recycle = 0

    def _start_worker(self) -> _Worker:
        parent, child = _SPAWN.Pipe()
        payload = {
            "logical_id": self.spec.logical_id,
            "name": self.spec.name,
            "arn": self.spec.arn,
            "handler": self.spec.handler,
            "memory_mb": self.spec.memory_mb,
            "code_dir": str(self.spec.code_dir),
            "layer_paths": [str(d) for d in self.spec.layer_dirs],
            "environment": self._env,
            "dynamodb_tables": self._dynamodb_tables,
        }
        process = _SPAWN.Process(target=worker.serve, args=(child, payload), daemon=True)
        process.start()
        child.close()
        try:
            # ("ready", None), after any put the handler's module made as it was imported
            ready = self._next_message(parent, time.monotonic() + _INIT_TIMEOUT_SECONDS)
        except EOFError as exc:
            raise InvocationError("Runtime.ExitError", f"{self.spec.logical_id} exited during init") from exc
        if ready is None:
            process.kill()
            raise InvocationError("Runtime.InitTimeout", f"{self.spec.logical_id} did not start")
        self.cold_starts += 1
        return _Worker(process, parent, self._generation)

    def prewarm(self, workers: int = 1) -> None:
        """Start workers ahead of the first invocations, up to `workers` of them (at most the pool's
        concurrency): what provisioned concurrency buys on AWS."""
        with self._lock:
            wanted = min(workers, self.concurrency) - len(self._idle) - self._busy
            if wanted <= 0 or self._closed:
                return
            self._busy += wanted  # counted as busy while they start, so invocations do not race past
        started: list[_Worker] = []
        try:
            for _ in range(wanted):
                started.append(self._start_worker())
        except Exception:
            log.warning("%s: prewarm failed; the first invocations will cold-start", self.spec.logical_id)
        finally:
            for i in range(wanted):
                self._release(started[i] if i < len(started) else None)

    def _acquire(self) -> _Worker | None:
        with self._lock:
            while not self._idle and self._busy >= self.concurrency:
                self._lock.wait()
            self._busy += 1
            return self._idle.pop() if self._idle else None

    def _release(self, w: _Worker | None) -> None:
        with self._lock:
            self._busy -= 1
            if w is not None and w.generation == self._generation and not self._closed:
                self._idle.append(w)
                w = None
            self._lock.notify()
        if w is not None:
            w.kill()

    def invoke(self, event: Any, *, request_id: str | None = None) -> Any:
        """Invoke the handler; raises InvocationError for an error, a timeout or a crash.

        Logs Lambda's START / END / REPORT lines (RequestId, duration, memory) at INFO."""
        request_id = request_id or str(uuid.uuid4())
        w = self._acquire()
        init_ms: float | None = None
        started: float | None = None
        peak_mb = 0.0
        outcome = ""
        try:
            if w is None:
                init_started = time.monotonic()
                w = self._start_worker()
                init_ms = (time.monotonic() - init_started) * 1000
            self.invocations += 1
            log.info("[%s] START RequestId: %s Version: $LATEST", self.spec.logical_id, request_id)
            started = time.monotonic()
            w.conn.send((request_id, json.dumps(event), float(self.spec.timeout)))
            try:
                reply = self._next_message(w.conn, started + self.spec.timeout)
            except (EOFError, OSError) as exc:
                outcome = "\tStatus: error\tError Type: Runtime.ExitError"
                w.kill()
                w = None
                raise InvocationError(
                    "Runtime.ExitError", "the worker process exited during the invocation"
                ) from exc
            if reply is None:
                peak_mb, outcome = _memory_mb(w.process.pid)[1], "\tStatus: timeout"
                w.kill()
                w = None
                raise InvocationError(
                    "Sandbox.Timedout", f"Task timed out after {self.spec.timeout:.2f} seconds"
                )
            status, payload = reply
            rss, peak_mb = _memory_mb(w.process.pid)
            if rss > self.spec.memory_mb:
                outcome = "\tStatus: error\tError Type: Runtime.OutOfMemory"
                w.kill()
                w = None
                raise InvocationError("Runtime.OutOfMemory", f"used {rss:.0f} MB of {self.spec.memory_mb} MB")
            if status == "error":
                raise InvocationError(
                    payload["errorType"], payload["errorMessage"], payload.get("stackTrace")
                )
            return json.loads(payload)
        finally:
            if started is not None:
                self._report(request_id, (time.monotonic() - started) * 1000, init_ms, peak_mb, outcome)
            self._release(w)
            self._count_towards_recycle()

    def _next_message(self, conn: Connection, deadline: float) -> tuple[str, Any] | None:
        """The worker's next message other than a put notice, or None once `deadline` (monotonic) has
        passed; EOFError (or OSError) if the worker is gone. The notices that come first (one of the
        handler's Kinesis puts landed: worker.announce_puts) wake the stream's mappings."""
        while conn.poll(max(0.0, deadline - time.monotonic())):
            status, payload = conn.recv()
            if status != "put":
                return status, payload
            self._announce_put(payload)
        return None

    def _announce_put(self, stream: str) -> None:
        """Wake the mappings of `stream`. Never raises, so that the invocation's reply is always read
        before the worker is handed out again."""
        if self.on_put is None:
            return
        try:
            self.on_put(stream)
        except Exception:
            log.exception("%s: waking the mappings of %s failed", self.spec.logical_id, stream)

    def _report(
        self, request_id: str, duration_ms: float, init_ms: float | None, peak_mb: float, outcome: str
    ) -> None:
        name = self.spec.logical_id
        log.info("[%s] END RequestId: %s", name, request_id)
        init = f"\tInit Duration: {init_ms:.2f} ms" if init_ms is not None else ""
        log.info(
            "[%s] REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\t"
            "Max Memory Used: %d MB%s%s",
            name,
            request_id,
            duration_ms,
            math.ceil(duration_ms),
            self.spec.memory_mb,
            math.ceil(peak_mb),
            init,
            outcome,
        )

    def _count_towards_recycle(self) -> None:
        if not self.recycle_every:
            return
        with self._lock:
            self._since_recycle += 1
            due = self._since_recycle >= self.recycle_every
            if due:
                self._since_recycle = 0
                self.forced_recycles += 1
        if due:
            self.recycle()

    def recycle(self) -> None:
        """Force the next invocations to cold-start: idle workers die now, busy ones when they finish."""
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, []
        for w in idle:
            w.kill()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.recycle()
