"""The end-to-end benchmark's results: one JSON document, a markdown summary and the latency curve."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.e2e.floor import FloorResult
from bench.e2e.harness import Phase, Saturation
from localcloud.callcount import CallTotals
from tradestream.bots.stats import percentile

PROJECTIONS = {"OrderStatusFunction", "JournalFunction", "PortfolioFunction", "MarketDataFunction"}
TARGET_P99_SECONDS = 0.5
TARGET_FRACTION = 0.5


def component(label: str) -> str:
    if label == "OrdersFunction":
        return "orders API"
    if label == "MatchingFunction":
        return "matching"
    if label in PROJECTIONS:
        return "projections"
    if label == "localcloud":
        return "event-source pollers"
    return "other (auth, authorizer, query, probes)"


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def step(phase: Phase) -> dict[str, Any]:
    result = phase.result
    return {
        "name": phase.name,
        "offered": phase.offered,
        "seconds": result.duration,
        "scheduled": result.scheduled,
        "accepted": result.accepted,
        "accepted_rate": round(result.accepted_rate, 2),
        "completed_rate": round(phase.completed_rate, 2),
        "drain_seconds": None if phase.drain is None else round(phase.drain, 2),
        "settle_seconds": None if phase.settle is None else round(phase.settle, 1),
        "keeps_up": phase.keeps_up,
        "counts": dict(result.stats.counts),
        "latency_ms": {
            kind: {q: _ms(phase.latency(kind, p)) for q, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}
            | {"n": len(getattr(result.stats.latencies, attr))}
            for kind, attr in (("post", "post"), ("final", "to_final"), ("position", "to_position"))
        },
        "probe_timeouts": result.stats.latencies.timeouts,
        "segments_ms": segments(phase),
        "slowest": slowest(phase),
        "steal": steal(phase),
    }


def segments(phase: Phase) -> dict[str, dict[str, float | None]]:
    """Percentiles of each leg of POST -> final/resting (see tradestream.bots.stats.Latencies)."""
    legs = list(zip(*phase.result.stats.latencies.segments, strict=True)) or [(), (), ()]
    return {
        name: {q: _ms(percentile(list(values), p)) for q, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}
        for name, values in zip(("api", "lane", "stream"), legs, strict=True)
    }


def slowest(phase: Phase, count: int = 5) -> list[dict[str, Any]]:
    """The step's slowest probes: when each order was posted (UTC, to find it in cloud.log), its legs,
    and the most the host stole of the machine in a second while the order was under way."""
    traced = sorted(phase.result.stats.latencies.traced, key=lambda t: t[1], reverse=True)[:count]
    return [
        {
            "posted": datetime.fromtimestamp(posted, UTC).strftime("%H:%M:%S.%f")[:-3],
            "final_ms": _ms(final),
            **{f"{leg}_ms": _ms(value) for leg, value in zip(("api", "lane", "stream"), legs, strict=True)},
            # a sample covers the second before its time
            "steal": max(
                (share for at, share in phase.steal if posted < at < posted + final + 1.0), default=None
            ),
        }
        for posted, final, legs in traced
    ]


def steal(phase: Phase) -> dict[str, float | None]:
    """The host's steal over the step: its mean share of the machine, and its worst second."""
    shares = [share for _, share in phase.steal]
    return {
        "mean": round(sum(shares) / len(shares), 4) if shares else None,
        "worst_second": round(max(shares), 4) if shares else None,
    }


def _per(calls: Counter[tuple[str, str]], orders: int) -> dict[str, float]:
    return {f"{s}.{o}": round(n / orders, 3) for (s, o), n in sorted(calls.items()) if n and orders}


def by_component(calls: dict[str, CallTotals], orders: int) -> dict[str, dict[str, float]]:
    grouped: dict[str, Counter[tuple[str, str]]] = {}
    for label, totals in calls.items():
        grouped.setdefault(component(label), Counter()).update(totals.calls)
    return {name: _per(counter, orders) for name, counter in sorted(grouped.items())}


def collect(
    *,
    args: argparse.Namespace,
    info: dict[str, Any],
    idle: dict[str, CallTotals],
    idle_seconds: float,
    steps: Sequence[Phase],
    saturation: Saturation | None,
    eighty: Phase | None,
    refuted: Sequence[Phase],
    sustained: Phase,
    floor_result: FloorResult,
    floor_expected: Counter[tuple[str, str]],
    workload: dict[str, float],
    quiescent_after: float | None,
    audit_ok: bool,
    audit_violations: list[str],
    dead_letters: int,
) -> dict[str, Any]:
    orders = sustained.result.accepted
    idle_total: Counter[tuple[str, str]] = Counter()
    for totals in idle.values():
        idle_total.update(totals.calls)
    retries = sum(
        n for totals in sustained.calls.values() for n in (totals.attempts - totals.calls).values() if n > 0
    )
    cpu_wall = sustained.seconds
    fraction = (
        sustained.completed_rate / floor_result.orders_per_second if floor_result.orders_per_second else 0.0
    )
    p99_at_80 = eighty.latency("final", 0.99) if eighty else None
    return {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": info,
        "config": {
            key: getattr(args, key)
            for key in (
                "users",
                "tickers",
                "seed",
                "rates",
                "step_seconds",
                "sustained_seconds",
                "probe_rate",
                "poll_interval",
                "workers",
                "floor_threads",
                "stock_moto",
                "one_moto",
                "dynamodb_per_table",
                "function_concurrency",
                "sqs_pollers",
            )
        },
        "idle_calls_per_second": {
            f"{s}.{o}": round(n / idle_seconds, 2) for (s, o), n in sorted(idle_total.items()) if n
        },
        "steps": [step(p) for p in steps],
        "saturation": None
        if saturation is None
        else step(saturation.phase) | {"rate": saturation.rate, "basis": saturation.basis},
        "at_80_percent": None if eighty is None else step(eighty),
        # sustained runs that did not hold, and long steps at 80% of a higher rate that did not keep up
        "refuted_steps": [step(p) for p in refuted],
        "sustained": step(sustained)
        | {
            "calls_per_order": _per(sustained.calls_total(), orders),
            "calls_per_order_by_component": by_component(sustained.calls, orders),
            "sdk_retries": retries,
            "cpu_seconds": {k: round(v, 1) for k, v in _by_value(sustained.cpu)},
            "cpu_share_of_one_core": {k: round(v / cpu_wall, 2) for k, v in _by_value(sustained.cpu)},
        },
        "floor": {
            "orders": floor_result.orders,
            "commands": floor_result.commands,
            "entries": floor_result.entries,
            "rounds": floor_result.rounds,
            "seconds": round(floor_result.seconds, 2),
            "threads": floor_result.threads,
            "orders_per_second": round(floor_result.orders_per_second, 2),
            "calls_per_order": _per(floor_result.calls, floor_result.orders),
            "design_calls_per_order": _per(floor_expected, floor_result.orders),
        },
        "workload": workload,
        "fraction_of_floor": round(fraction, 3),
        "targets": {
            "fraction_of_floor": {"target": TARGET_FRACTION, "measured": round(fraction, 3)},
            "p99_final_at_80_percent_seconds": {"target": TARGET_P99_SECONDS, "measured": p99_at_80},
            "audit_violations": {"target": 0, "measured": len(audit_violations)},
        },
        "quiescent_after_seconds": quiescent_after,
        "audit": {"ok": audit_ok, "violations": audit_violations[:50], "dead_letters": dead_letters},
    }


def cancels_per_order(step: dict[str, Any]) -> float | None:
    """Cancels the API accepted per accepted order. The bots cancel open orders, so a lane running late
    leaves more of them open and draws more cancels, each one more lane message (0.45 in steps at 24/s
    that held, 0.57 in those where the lane fell behind: docs/benchmarks.md, "After run 24")."""
    accepted = step["counts"].get("accepted", 0)
    return round(step["counts"].get("cancel.accepted", 0) / accepted, 2) if accepted else None


def _by_value(values: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(values.items(), key=lambda kv: kv[1], reverse=True)


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def markdown(results: dict[str, Any]) -> str:
    host = results["machine"]
    lines = [
        f"Host speed (bench/e2e/run.py `host_speed`, thousands of loops/s): "
        f"{_cell(host.get('host_speed_at_start'))} before the run, {_cell(host.get('host_speed_at_end'))} "
        "after it",
        "",
        "### Latency vs offered load",
        "",
        "| offered/s | accepted/s | completed/s | drain s | POST p50 ms | final p50 | p95 | p99 "
        "| position p50 | p99 | cancels/order | keeps up |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in results["steps"]:
        lat = s["latency_ms"]
        lines.append(
            f"| {s['offered']:g} | {s['accepted_rate']} | {s['completed_rate']} "
            f"| {_cell(s['drain_seconds'])} | {_cell(lat['post']['p50'])} "
            f"| {_cell(lat['final']['p50'])} | {_cell(lat['final']['p95'])} | {_cell(lat['final']['p99'])} "
            f"| {_cell(lat['position']['p50'])} | {_cell(lat['position']['p99'])} "
            f"| {_cell(cancels_per_order(s))} | {'yes' if s['keeps_up'] else 'no'} |"
        )
    sat, eighty, sus, flo = (
        results["saturation"],
        results["at_80_percent"],
        results["sustained"],
        results["floor"],
    )
    lines += [
        "",
        f"Saturation (the highest rate the pipeline holds through the sustained run, and whose long step at "
        f"80% keeps up too): {sat['rate'] if sat else '-'} orders/s" + (f" ({sat['basis']})" if sat else ""),
    ]
    for refuted in results["refuted_steps"]:
        lines.append(
            f"Not saturation: {refuted['name']} ({refuted['offered']:g} orders/s for "
            f"{refuted['seconds']:.0f} s) did not {'hold' if refuted['keeps_up'] else 'keep up'} "
            f"(accepted {refuted['accepted_rate']}/s, drain {_cell(refuted['drain_seconds'])} s, "
            f"completed {refuted['completed_rate']}/s)"
        )
    if eighty:
        lat = eighty["latency_ms"]["final"]
        lines.append(
            f"At 80% of it ({eighty['offered']} orders/s): POST -> final/resting p50 {lat['p50']} ms, "
            f"p95 {lat['p95']} ms, p99 {lat['p99']} ms (n = {lat['n']})"
        )
    lines += [
        "",
        "Where the time goes (ms; from each probed order's createdAt and updatedAt): api = POST sent to the "
        "order written, lane = written to committed by matching, stream = committed to seen by GET",
        "",
        "| run | api p50 | p99 | lane p50 | p99 | stream p50 | p99 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in [*results["steps"], *([eighty] if eighty else []), results["sustained"]]:
        seg = row["segments_ms"]
        lines.append(
            f"| {row['name']} | {_cell(seg['api']['p50'])} | {_cell(seg['api']['p99'])} "
            f"| {_cell(seg['lane']['p50'])} | {_cell(seg['lane']['p99'])} "
            f"| {_cell(seg['stream']['p50'])} | {_cell(seg['stream']['p99'])} |"
        )
    lines += [
        "",
        "The slowest probes of the step at 80% of saturation and of the sustained run (posted at, UTC; host "
        "steal = the most of the machine's CPU the hypervisor took in a second while the order was under "
        "way; the step's mean in brackets):",
        "",
        "| run | posted | final ms | api | lane | stream | host steal |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in [*([eighty] if eighty else []), results["sustained"]]:
        mean = row.get("steal", {}).get("mean")
        for probe in row.get("slowest", []):
            lines.append(
                f"| {row['name']} | {probe['posted']} | {_cell(probe['final_ms'])} "
                f"| {_cell(probe['api_ms'])} | {_cell(probe['lane_ms'])} | {_cell(probe['stream_ms'])} "
                f"| {_pct(probe.get('steal'))} ({_pct(mean)}) |"
            )
    lines += [
        "",
        "### Sustained run and the emulator floor",
        "",
        f"- sustained: {sus['offered']} orders/s offered for {sus['seconds']:.0f}s: "
        f"{sus['accepted']} accepted "
        f"({sus['accepted_rate']}/s), all final or resting after {sus['drain_seconds']} s more: "
        f"**{sus['completed_rate']} orders/s completed**",
        f"- floor: {flo['orders']} orders ({flo['commands']} commands, {flo['entries']} log entries, "
        f"{flo['rounds']} rounds) replayed in {flo['seconds']} s on {flo['threads']} threads: "
        f"**{flo['orders_per_second']} orders/s**",
        f"- pipeline / floor: **{results['fraction_of_floor']:.0%}**",
        f"- audit: {'passed' if results['audit']['ok'] else 'FAILED'} "
        f"({len(results['audit']['violations'])} violations, "
        f"{results['audit']['dead_letters']} dead letters)",
        "",
        "### AWS calls per accepted order (sustained run)",
        "",
        "| call | pipeline | floor (replayed) | design floor |",
        "|---|---:|---:|---:|",
    ]
    ops = sorted(set(sus["calls_per_order"]) | set(flo["calls_per_order"]))
    for op in ops:
        lines.append(
            f"| {op} | {sus['calls_per_order'].get(op, 0)} | {flo['calls_per_order'].get(op, 0)} "
            f"| {flo['design_calls_per_order'].get(op, 0)} |"
        )
    total = sum(sus["calls_per_order"].values())
    lines += [
        f"| **total** | **{total:.2f}** | **{sum(flo['calls_per_order'].values()):.2f}** "
        f"| **{sum(flo['design_calls_per_order'].values()):.2f}** |",
        "",
        "By component (pipeline):",
        "",
        "| component | calls per order |",
        "|---|---:|",
    ]
    for name, ops_of in sus["calls_per_order_by_component"].items():
        detail = ", ".join(f"{k} {v}" for k, v in ops_of.items())
        lines.append(f"| {name} | {sum(ops_of.values()):.2f} ({detail}) |")
    lines += [
        "",
        "CPU during the sustained run (share of one core):",
        "",
        "| process | share |",
        "|---|---:|",
    ]
    for name, share in sus["cpu_share_of_one_core"].items():
        lines.append(f"| {name} | {share} |")
    return "\n".join(lines) + "\n"


def plot(steps: Sequence[Phase], saturation: float | None, eighty: Phase | None, paths: list[Path]) -> None:
    import matplotlib  # noqa: PLC0415 - the bench extra; only this function needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    points = [*steps, *([eighty] if eighty else [])]
    points.sort(key=lambda p: p.offered)
    rates = [p.offered for p in points]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 8), sharex=True)
    for q, style in ((0.5, "o-"), (0.95, "s--"), (0.99, "^-")):
        values = [1000 * (p.latency("final", q) or float("nan")) for p in points]
        top.plot(rates, values, style, label=f"POST -> final/resting p{int(q * 100)}")
    position = [1000 * (p.latency("position", 0.99) or float("nan")) for p in points]
    top.plot(rates, position, "x:", label="POST -> taker position p99")
    top.axhline(
        TARGET_P99_SECONDS * 1000, color="grey", linewidth=0.8, label="p99 target at 80% of saturation"
    )
    top.set_yscale("log")
    top.set_ylabel("latency (ms)")
    top.legend(fontsize=8)
    top.grid(True, which="both", alpha=0.3)
    bottom.plot(rates, [p.result.accepted_rate for p in points], "o-", label="accepted/s")
    bottom.plot(rates, [p.completed_rate for p in points], "s-", label="completed (final or resting)/s")
    bottom.plot(rates, rates, ":", color="grey", label="offered")
    for rate, color in ((saturation, "red"), (eighty.offered if eighty else None, "orange")):
        if rate is not None:
            for axis in (top, bottom):
                axis.axvline(rate, color=color, alpha=0.5)
    bottom.set_xlabel("offered orders/s")
    bottom.set_ylabel("orders/s")
    bottom.legend(fontsize=8)
    bottom.grid(True, alpha=0.3)
    fig.suptitle("TradeStream on the embedded local cloud: latency vs offered load")
    fig.tight_layout()
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    plt.close(fig)
