"""Runs a plan against the API at an offered rate: users signed in, actions on a thread pool, probes.

Open loop: the scheduler hands out one placement every 1/rate seconds whatever the answers, as real
users would; each user's actions run in plan order on the worker that owns the user (so a cancel never
overtakes the placement it names). If a worker falls so far behind that its backlog passes a bound, the
action is shed and counted: the load generator says it could not offer more, instead of queueing
without end. Probes follow a sample of the accepted orders until GET shows them final or resting, and
a taker's fill until its portfolio shows it.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from tradestream.bots.client import Api, ApiError, Credentials
from tradestream.bots.plan import Action, Place, Plan
from tradestream.bots.stats import Stats, percentile

FINAL = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED"})
# An action that waited this long behind its worker's earlier ones is shed: an overloaded API makes the
# bots offer less, as real users give up, instead of queueing without end (and a step lasting for ever).
MAX_LAG_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 30.0
PROBE_THREADS = 64
# The login rate limit is 10/s per source IP with a burst of 20, and every bot shares 127.0.0.1.
LOGIN_RATE_PER_SECOND = 8.0


def settled(order: dict[str, Any]) -> bool:
    """Final or resting: a NEW order is resting once the engine reported on it (updatedAt moved)."""
    status = order["status"]
    if status in FINAL or status == "PARTIALLY_FILLED":
        return True
    return bool(status == "NEW" and order["updatedAt"] != order["createdAt"])


class _Pacer:
    """Spaces calls `1/rate` seconds apart across threads (the login rate limit's budget)."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self, extra: float = 0.0) -> None:
        with self._lock:
            now = time.monotonic()
            self._next = max(self._next, now) + self._interval + extra
            delay = self._next - self._interval - now
        if delay > 0:
            time.sleep(delay)


class Fleet:
    """The simulated users, registered and logged in once, reused across runs."""

    def __init__(self, api_url: str, users: list[Credentials]) -> None:
        self.api_url = api_url
        self.users = users
        self.order_ids: list[dict[str, str]] = [{} for _ in users]  # per user: clientOrderId -> orderId

    @classmethod
    def of(cls, api_url: str, count: int, *, seed: int, prefix: str = "bot") -> Fleet:
        users = [Credentials(f"{prefix}{seed}-{i:04d}", f"pw-{seed}-{i:04d}-bots") for i in range(count)]
        return cls(api_url, users)

    def sign_in(self, *, threads: int = 4, login_rate: float = LOGIN_RATE_PER_SECOND) -> None:
        """Register (or find) every user and log it in, pacing logins under the per-IP rate limit."""
        pacer = _Pacer(login_rate)
        local = threading.local()

        def one(user: Credentials) -> None:
            api: Api = getattr(local, "api", None) or Api(self.api_url)
            local.api = api
            api.register(user)
            while True:
                pacer.wait()
                retry_after = api.login(user)
                if retry_after is None:
                    return
                time.sleep(retry_after)

        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="signin") as pool:
            list(pool.map(one, self.users))


@dataclass
class RunResult:
    rate: float
    duration: float
    scheduled: int
    started: float  # monotonic
    ended: float  # monotonic, when the last action was answered
    stats: Stats
    placed: list[tuple[int, str, str]] = field(default_factory=list)  # (user, orderId, ticker) accepted

    @property
    def accepted(self) -> int:
        return self.stats.counts["accepted"]

    @property
    def accepted_rate(self) -> float:
        """Over the time the API took to answer every action (longer than `duration` when it lagged)."""
        return self.accepted / max(1e-9, self.ended - self.started)

    def summary(self) -> dict[str, Any]:
        return {
            "offered_rate": self.rate,
            "duration": self.duration,
            "scheduled": self.scheduled,
            "accepted": self.accepted,
            "accepted_rate": round(self.accepted_rate, 2),
            "counts": dict(self.stats.counts),
            "latency": self.stats.latencies.summary(),
        }


@dataclass(frozen=True)
class _Probe:
    user: int
    order_id: str
    place: Place
    posted_at: float  # monotonic
    posted_wall: float  # time.time(), to compare with the order's own timestamps


def _segments(posted_wall: float, order: dict[str, Any], seen_wall: float) -> tuple[float, float, float]:
    """(POST -> createdAt, createdAt -> updatedAt, updatedAt -> seen), in seconds."""
    created = datetime.fromisoformat(order["createdAt"]).timestamp()
    updated = datetime.fromisoformat(order["updatedAt"]).timestamp()
    return created - posted_wall, updated - created, seen_wall - updated


class Run:
    """One stretch of load at one offered rate."""

    def __init__(
        self,
        fleet: Fleet,
        plan: Plan,
        *,
        rate: float,
        duration: float,
        workers: int = 16,
        probe_rate: float = 0.0,
        poll_interval: float = 0.05,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.fleet = fleet
        self.plan = plan
        self.rate = rate
        self.duration = duration
        self.workers = max(1, min(workers, len(fleet.users)))
        self.probe_rate = probe_rate
        self.poll_interval = poll_interval
        self.progress = progress
        self.stats = Stats()
        self._queues: list[queue.Queue[tuple[float, Action] | None]] = [
            queue.Queue() for _ in range(self.workers)
        ]
        # Each probe polls on its own pool thread, so a slow order never delays the start of another
        # probe (a queued probe would count its wait as latency).
        self._probes = ThreadPoolExecutor(max_workers=PROBE_THREADS, thread_name_prefix="probe")
        self._probe_local = threading.local()
        self._next_probe = {True: 0.0, False: 0.0}  # by "crosses": takers and the rest sampled apart
        self._placed: list[tuple[int, str, str]] = []
        self._placed_lock = threading.Lock()

    # --- the workers ---------------------------------------------------------------------------------
    def _work(self, index: int) -> None:
        api = Api(self.fleet.api_url)
        while (item := self._queues[index].get()) is not None:
            due, action = item
            if time.monotonic() - due > MAX_LAG_SECONDS:
                self.stats.add("shed")
                continue
            try:
                self._act(api, action)
            except (requests.RequestException, ApiError) as exc:
                self.stats.add(f"error.{type(exc).__name__}")

    def _act(self, api: Api, action: Action) -> None:
        user = self.fleet.users[action.user]
        ids = self.fleet.order_ids[action.user]
        for client_order_id in action.cancels:
            order_id = ids.get(client_order_id)
            if order_id is None:
                self.stats.add("cancel.unknown")  # its placement failed or was shed
                continue
            status = api.cancel(user, order_id).status_code
            self.stats.add(
                {202: "cancel.accepted", 409: "cancel.already_final"}.get(status, f"error.cancel.{status}")
            )
        started = time.monotonic()
        response = api.place(user, action.place.body())
        elapsed = time.monotonic() - started
        if response.status_code == 202:
            order_id = str(response.json()["id"])
            ids[action.place.client_order_id] = order_id
            self.stats.accepted(elapsed)
            with self._placed_lock:
                self._placed.append((action.user, order_id, action.place.ticker))
            self._maybe_probe(action, order_id, started)
        elif response.status_code == 200:
            self.stats.add("duplicate")  # the same clientOrderId again: the stored order, nothing queued
        elif response.status_code == 429:
            self.stats.add("throttled")
        elif response.status_code >= 500:
            self.stats.add(f"error.place.{response.status_code}")
        else:
            self.stats.add(f"rejected.{response.status_code}")

    def _maybe_probe(self, action: Action, order_id: str, posted_at: float) -> None:
        """Follow at most `probe_rate` orders a second of each kind, whatever the offered rate, so the
        probes' GETs load the system alike at every step of a curve."""
        if self.probe_rate <= 0:
            return
        kind = action.place.crosses
        with self._placed_lock:
            if posted_at < self._next_probe[kind]:
                return
            self._next_probe[kind] = posted_at + 1.0 / self.probe_rate
        posted_wall = time.time() - (time.monotonic() - posted_at)
        self._probes.submit(self._probe, _Probe(action.user, order_id, action.place, posted_at, posted_wall))

    # --- the probes ----------------------------------------------------------------------------------
    def _probe(self, probe: _Probe) -> None:
        api: Api | None = getattr(self._probe_local, "api", None)
        if api is None:
            api = self._probe_local.api = Api(self.fleet.api_url)
        try:
            self._follow(api, probe)
        except (requests.RequestException, ApiError) as exc:
            self.stats.add(f"error.probe.{type(exc).__name__}")

    def _poll(
        self, fetch: Callable[[], requests.Response], done: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any] | None:
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < PROBE_TIMEOUT_SECONDS:
            # Fine-grained where the latency targets are (under a second), coarser after: a slow
            # order must not multiply the probes' own load on the system it is measuring.
            time.sleep(self.poll_interval * (1 if elapsed < 1 else 5 if elapsed < 5 else 20))
            response = fetch()
            if response.status_code == 200:
                body: dict[str, Any] = response.json()
                if done(body):
                    return body
            elif response.status_code != 404:
                self.stats.add(f"error.probe.{response.status_code}")
        return None

    def _follow(self, api: Api, probe: _Probe) -> None:
        user = self.fleet.users[probe.user]
        order = self._poll(lambda: api.order(user, probe.order_id), settled)
        if order is None:
            self.stats.probe(final=None, position=None, timed_out=True)
            return
        final = time.monotonic() - probe.posted_at
        trace = (probe.posted_wall, _segments(probe.posted_wall, order, time.time()))
        position: float | None = None
        if probe.place.crosses and order["filledQuantity"] not in ("0", None):
            # The position's updatedAt is the execution time of its last fill; the order's is the same
            # commit's time, so the position includes this fill once it is at least as late.
            seen = self._poll(
                lambda: api.position(user, probe.place.ticker),
                lambda p: str(p["updatedAt"]) >= order["updatedAt"],
            )
            if seen is None:
                self.stats.probe(final=final, position=None, timed_out=True, trace=trace)
                return
            position = time.monotonic() - probe.posted_at
        self.stats.probe(final=final, position=position, timed_out=False, trace=trace)

    # --- the run -----------------------------------------------------------------------------------------
    def _report(self, started: float, stop: threading.Event) -> None:
        last = started
        while not stop.wait(1.0):
            now = time.monotonic()
            final = self.stats.latencies.to_final[-200:]
            p50 = percentile(final, 0.5)
            line = (
                f"[{now - started:6.1f}s] offered {self.rate:6.1f}/s"
                f"  accepted {self.stats.rate_since(last):6.1f}/s"
                f"  total {self.stats.counts['accepted']:6d}  errors {self.stats.errors:4d}"
                f"  shed {self.stats.counts['shed']:4d}"
                + (f"  final p50 {p50 * 1000:5.0f} ms" if p50 is not None else "")
            )
            last = now
            if self.progress is not None:
                self.progress(line)

    def execute(self) -> RunResult:
        threads = [
            threading.Thread(target=self._work, args=(i,), name=f"bot-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        stop = threading.Event()
        reporter = threading.Thread(target=self._report, args=(started, stop), daemon=True)
        reporter.start()
        scheduled = self._schedule(started)
        for q in self._queues:
            q.put(None)
        for thread in threads:
            thread.join()
        ended = time.monotonic()
        self._probes.shutdown(wait=True)
        stop.set()
        reporter.join()
        return RunResult(
            rate=self.rate,
            duration=self.duration,
            scheduled=scheduled,
            started=started,
            ended=ended,
            stats=self.stats,
            placed=list(self._placed),
        )

    def _schedule(self, started: float) -> int:
        total = int(self.rate * self.duration)
        for k in range(total):
            due = started + k / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            action = next(self.plan)
            self._queues[action.user % self.workers].put((due, action))
        return total


# --- quiescence ---------------------------------------------------------------------------------------


def unsettled(fleet: Fleet, *, threads: int = 8) -> int:
    """Orders not yet final or resting (or with a cancel not yet applied), over every user."""
    local = threading.local()

    def count(user: Credentials) -> int:
        api: Api = getattr(local, "api", None) or Api(fleet.api_url)
        local.api = api
        return sum(1 for o in api.open_orders(user) if not settled(o) or o.get("cancelRequested"))

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="quiesce") as pool:
        return sum(pool.map(count, fleet.users))


def wait_for_quiescence(
    fleet: Fleet, *, timeout: float, interval: float = 1.0, progress: Callable[[str], None] | None = None
) -> float | None:
    """Seconds until every order was final or resting, or None if `timeout` passed first."""
    started = time.monotonic()
    while True:
        left = unsettled(fleet)
        waited = time.monotonic() - started
        if left == 0:
            return waited
        if progress is not None:
            progress(f"[quiescence] {left} order(s) not yet final or resting after {waited:.1f}s")
        if waited > timeout:
            return None
        time.sleep(interval)


def printer(stream: Any = sys.stderr) -> Callable[[str], None]:
    """Progress lines: rewritten in place on a terminal, one per line otherwise."""
    tty = bool(getattr(stream, "isatty", lambda: False)())

    def show(line: str) -> None:
        stream.write(("\r" + line + "\x1b[K") if tty else line + "\n")
        stream.flush()

    return show
