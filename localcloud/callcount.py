"""Counts the AWS API calls a process makes, per service and operation (opt-in, for benchmarks).

`LOCALCLOUD_CALL_COUNTS=<dir>` turns it on: every process that calls `install_from_env` (each function
worker, and whatever launches the local cloud) registers a botocore event handler on every session
created afterwards, and writes its running totals to `<dir>/<label>.<pid>.json` every couple of seconds
and at exit. Workers are killed rather than stopped (recycle, close), so the periodic write is what
survives; a reader sums the files and takes differences between two readings to count a time window.

Two events are counted: `before-call` once per API call, `before-send` once per HTTP attempt, so
attempts minus calls are the SDK's retries.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session

ENV = "LOCALCLOUD_CALL_COUNTS"
FLUSH_SECONDS = 1.0
_EVENTS = ("before-call", "before-send")


@dataclass
class CallCounter:
    """Totals of this process: {"before-call.dynamodb.PutItem": n, ...}."""

    directory: Path
    label: str
    counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _written: dict[str, int] = field(default_factory=dict)

    def record(self, **kwargs: Any) -> None:
        # Handlers run on every call of every client: a lock and a dict increment, nothing more.
        with self._lock:
            self.counts[str(kwargs["event_name"])] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    @property
    def path(self) -> Path:
        return self.directory / f"{self.label}.{os.getpid()}.json"

    def flush(self) -> None:
        counts = self.snapshot()
        if counts == self._written:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"label": self.label, "pid": os.getpid(), "counts": counts}))
        os.replace(tmp, self.path)  # a reader never sees half a file
        self._written = counts

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                self.flush()
            except OSError:
                continue  # the directory went away (the benchmark ended): nothing left to tell


_installed: CallCounter | None = None


def install(directory: str | Path, label: str) -> CallCounter:
    """Count every botocore call made from now on in this process (idempotent)."""
    global _installed  # noqa: PLW0603 - one counter per process, by design
    if _installed is not None:
        return _installed
    counter = CallCounter(Path(directory), label)
    counter.directory.mkdir(parents=True, exist_ok=True)
    original_init = botocore.session.Session.__init__

    def counting_init(session: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        original_init(session, *args, **kwargs)
        # Registered on the session before any client exists: each client copies the session's
        # emitter when it is created, so all of them (boto3's, pynamodb's) report to this handler.
        for event in _EVENTS:
            session.register(event, counter.record, unique_id=f"localcloud-callcount-{event}")

    setattr(botocore.session.Session, "__init__", counting_init)  # noqa: B010 - mypy forbids method assignment
    import boto3  # noqa: PLC0415 - only to catch a default session created before install

    if boto3.DEFAULT_SESSION is not None:
        for event in _EVENTS:
            boto3.DEFAULT_SESSION._session.register(
                event, counter.record, unique_id=f"localcloud-callcount-{event}"
            )
    atexit.register(counter.flush)
    threading.Thread(target=counter._flush_forever, name="callcount", daemon=True).start()
    _installed = counter
    return counter


def install_from_env(label: str) -> CallCounter | None:
    """`install` if LOCALCLOUD_CALL_COUNTS names a directory; call it before the environment is replaced."""
    directory = os.environ.get(ENV)
    return install(directory, label) if directory else None


@dataclass(frozen=True)
class CallTotals:
    """Calls and HTTP attempts per (service, operation), summed over every process that reported."""

    calls: Counter[tuple[str, str]]
    attempts: Counter[tuple[str, str]]

    def __sub__(self, other: CallTotals) -> CallTotals:
        return CallTotals(calls=self.calls - other.calls, attempts=self.attempts - other.attempts)

    def total(self) -> int:
        return sum(self.calls.values())


def read_totals(directory: str | Path, *, labels: set[str] | None = None) -> CallTotals:
    """Sum of every process's latest counts in `directory` (optionally only some labels)."""
    by_label = read_by_label(directory)
    calls: Counter[tuple[str, str]] = Counter()
    attempts: Counter[tuple[str, str]] = Counter()
    for label, totals in by_label.items():
        if labels is None or label in labels:
            calls.update(totals.calls)
            attempts.update(totals.attempts)
    return CallTotals(calls=calls, attempts=attempts)


def read_by_label(directory: str | Path) -> dict[str, CallTotals]:
    """Each label's totals (a function's logical id, or whatever a launcher called itself)."""
    result: dict[str, CallTotals] = {}
    for path in sorted(Path(directory).glob("*.json")):
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # replaced while we read it; the next reading has it
        totals = result.setdefault(
            str(document.get("label")), CallTotals(calls=Counter(), attempts=Counter())
        )
        for name, count in document.get("counts", {}).items():
            event, _, rest = name.partition(".")
            service, _, operation = rest.partition(".")
            target = totals.calls if event == "before-call" else totals.attempts
            target[(service, operation)] += int(count)
    return result


def pids_by_label(directory: str | Path) -> dict[int, str]:
    """Which process reported under which label (to attribute CPU time to functions)."""
    pids: dict[int, str] = {}
    for path in Path(directory).glob("*.json"):
        label, _, pid = path.stem.rpartition(".")
        if pid.isdigit():
            pids[int(pid)] = label
    return pids
