"""Runs each function in its own worker processes: warm state kept, timeouts and crashes contained."""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
import uuid
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


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


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

    def __init__(self, spec: FunctionSpec, *, base_env: dict[str, str], concurrency: int = 4) -> None:
        self.spec = spec
        self.concurrency = concurrency
        self._env = {
            **base_env,
            **spec.environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
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

    def _start_worker(self) -> _Worker:
        parent, child = _SPAWN.Pipe()
        payload = {
            "logical_id": self.spec.logical_id,
            "name": self.spec.name,
            "arn": self.spec.arn,
            "handler": self.spec.handler,
            "memory_mb": self.spec.memory_mb,
            "code_dir": str(self.spec.code_dir),
            "layer_paths": [str(d / "python") for d in self.spec.layer_dirs],
            "environment": self._env,
        }
        process = _SPAWN.Process(target=worker.serve, args=(child, payload), daemon=True)
        process.start()
        child.close()
        if not parent.poll(_INIT_TIMEOUT_SECONDS):
            process.kill()
            raise InvocationError("Runtime.InitTimeout", f"{self.spec.logical_id} did not start")
        try:
            parent.recv()
        except EOFError as exc:
            raise InvocationError("Runtime.ExitError", f"{self.spec.logical_id} exited during init") from exc
        self.cold_starts += 1
        return _Worker(process, parent, self._generation)

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
        """Invoke the handler; raises InvocationError for an error, a timeout or a crash."""
        request_id = request_id or str(uuid.uuid4())
        w = self._acquire()
        started = time.monotonic()
        try:
            if w is None:
                w = self._start_worker()
            self.invocations += 1
            w.conn.send((request_id, json.dumps(event), float(self.spec.timeout)))
            if not w.conn.poll(self.spec.timeout):
                w.kill()
                w = None
                raise InvocationError("Sandbox.Timedout", f"Task timed out after {self.spec.timeout:.2f} seconds")
            try:
                status, payload = w.conn.recv()
            except (EOFError, OSError) as exc:
                w.kill()
                w = None
                raise InvocationError("Runtime.ExitError", "the worker process exited during the invocation") from exc
            rss = _rss_mb(w.process.pid or 0)
            if rss > self.spec.memory_mb:
                w.kill()
                w = None
                raise InvocationError("Runtime.OutOfMemory", f"used {rss:.0f} MB of {self.spec.memory_mb} MB")
            if status == "error":
                raise InvocationError(payload["errorType"], payload["errorMessage"], payload.get("stackTrace"))
            return json.loads(payload)
        finally:
            elapsed_ms = (time.monotonic() - started) * 1000
            log.debug("%s REPORT RequestId: %s Duration: %.1f ms", self.spec.logical_id, request_id, elapsed_ms)
            self._release(w)

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
