"""Matching benchmark: one fixed-seed command stream through our book and each peer engine, in one run."""

from __future__ import annotations

import argparse
import gc
import glob
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from array import array
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for _path in (str(ROOT / "layers" / "common" / "python"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

# Run as a script, the repository root is importable only after the lines above.
from bench.matching import adapters, stream  # noqa: E402

EPILOG = """\
example: python bench/matching/run.py --commands 1000000 --seed 7

Every engine runs in its own child process (fresh heap, same stream file, same timing loop); the peers
live in bench-only venvs this script creates: bench/.venv (Python 3.11, bench/requirements.txt) and
bench/.venv312 (Python 3.12, bench/requirements-py312.txt, for matching-engine). See bench/README.md.
"""

BENCH = ROOT / "bench"
VENV = BENCH / ".venv"
VENV312 = BENCH / ".venv312"
RESULTS = BENCH / "results"
CHECKPOINT = 10_000  # commands between wall-clock checkpoints (and budget checks)
NEEDS_312 = {"matching-engine", "tradestream-py312"}


# -- child: time one engine --------------------------------------------------------------------------


def measure(calls: list[adapters.Call], budget_s: float) -> dict[str, Any]:
    """perf_counter_ns around every command; stops early (and says so) past the time budget."""
    clock = time.perf_counter_ns
    latencies = array("q")  # not a container the collector has to walk
    record = latencies.append
    checkpoints: list[int] = []
    start = clock()
    deadline = start + int(budget_s * 1e9)
    for offset in range(0, len(calls), CHECKPOINT):
        for function, argument in calls[offset : offset + CHECKPOINT]:
            before = clock()
            function(argument)
            record(clock() - before)
        now = clock()
        checkpoints.append(now - start)
        if now > deadline:
            break
    wall = clock() - start
    ordered = sorted(latencies)

    def percentile(p: float) -> int:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {
        "commands": len(latencies),
        "truncated": len(latencies) < len(calls),
        "wall_ns": wall,
        "per_second": len(latencies) / (wall / 1e9),
        "p50_ns": percentile(0.50),
        "p90_ns": percentile(0.90),
        "p99_ns": percentile(0.99),
        "p999_ns": percentile(0.999),
        "max_ns": ordered[-1],
        "checkpoints_ns": checkpoints,
    }


def child(engine: str, stream_path: Path, budget_s: float, limit: int | None, count_mode: str | None) -> None:
    adapters.quiet_logging()
    commands = stream.load(stream_path)[:limit]
    adapter = adapters.ADAPTERS[engine]()
    calls = adapter.prepare(commands)
    del commands
    if count_mode is not None:  # under cachegrind: "setup" is the baseline, "run" adds the commands alone
        if count_mode == "run":
            for function, argument in calls:
                function(argument)
        adapter.close()
        return
    # Everything built so far lives for the whole run; keep the collector from rescanning it.
    gc.collect()
    gc.freeze()
    result = measure(calls, budget_s)
    result.update(
        engine=engine,
        version=adapter.version(),
        python=platform.python_version(),
        notes=list(adapter.notes),
        top=adapter.top(5) if not result["truncated"] else None,
    )
    adapter.close()
    print(json.dumps(result))


# -- parent: venvs, stream, rounds, report -----------------------------------------------------------


def _python_version(executable: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [executable, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return int(out[0]), int(out[1])


def find_interpreter(major_minor: tuple[int, int], preferred: str | None) -> str | None:
    version = f"{major_minor[0]}.{major_minor[1]}"
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [preferred] if preferred else []
    candidates += [sys.executable, f"python{version}"]
    candidates += sorted(glob.glob(f"{pyenv}/versions/{version}*/bin/python{version}"), reverse=True)
    for candidate in candidates:
        if candidate and _python_version(candidate) == major_minor:
            return candidate
    return None


def ensure_venv(venv: Path, interpreter: str | None, requirements: Path) -> tuple[str | None, str]:
    """(python of the venv, "") when ready, else (None, why); reinstalls when requirements change."""
    if interpreter is None:
        return None, f"no interpreter found for {venv.name}"
    python = venv / "bin" / "python"
    stamp = venv / ".requirements.sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return str(python), ""
    try:
        if not python.exists():
            subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements)], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"could not build {venv.relative_to(ROOT)}: {exc}"
    stamp.write_text(digest)
    return str(python), ""


def stream_file(commands: int, seed: int) -> Path:
    path = RESULTS / f"stream-{commands}-{seed}.marshal"
    if not path.exists():
        started = time.perf_counter()
        stream.save(stream.generate(commands, seed), path)
        print(f"generated {commands:,} commands (seed {seed}) in {time.perf_counter() - started:.1f} s")
    return path


def run_child(python: str, engine: str, path: Path, budget_s: float) -> dict[str, Any]:
    argv = [python, str(Path(__file__)), "--child", engine, "--stream", str(path), "--budget", str(budget_s)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=budget_s * 4 + 900, check=False)
    except subprocess.TimeoutExpired:
        return {"engine": engine, "error": "timed out"}
    if done.returncode != 0:
        return {
            "engine": engine,
            "error": done.stderr.strip().splitlines()[-1:] or ["exit " + str(done.returncode)],
        }
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def count_instructions(python: str, engine: str, path: Path, commands: int) -> float | None:
    """Instructions per command of the engine alone: a cachegrind run that prepares and plays the
    commands (no timer calls) minus one that only prepares them."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    totals = []
    for extra in (["--count", "setup"], ["--count", "run"]):
        argv = [valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", python]
        argv += [str(Path(__file__)), "--child", engine, "--stream", str(path), "--limit", str(commands)]
        done = subprocess.run(argv + extra, capture_output=True, text=True, check=False)
        found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
        if done.returncode != 0 or found is None:
            return None
        totals.append(int(found.group(1).replace(",", "")))
    return (totals[1] - totals[0]) / commands


def ratio_to_ours(ours: dict[str, Any], peer: dict[str, Any]) -> float:
    """How many times faster ours is, over the commands both finished (a truncated peer did fewer)."""
    if peer["commands"] == ours["commands"]:
        return float(peer["wall_ns"]) / float(ours["wall_ns"])
    index = len(peer["checkpoints_ns"]) - 1  # both checkpoint every CHECKPOINT commands
    return float(peer["checkpoints_ns"][index]) / float(ours["checkpoints_ns"][index])


def summarise(rounds: list[dict[str, dict[str, Any]]], skipped: dict[str, str]) -> dict[str, Any]:
    engines = [name for name in adapters.ADAPTERS if name in rounds[0] and "error" not in rounds[0][name]]
    summary: dict[str, Any] = {"engines": {}, "skipped": skipped}
    ours_top = rounds[0]["tradestream"].get("top")
    for name in engines:
        runs = [r[name] for r in rounds if name in r and "error" not in r[name]]
        best = max(runs, key=lambda run: run["per_second"])
        entry = {
            key: statistics.median(run[key] for run in runs)
            for key in ("per_second", "p50_ns", "p99_ns", "p999_ns")
        }
        entry.update(
            commands=best["commands"],
            truncated=best["truncated"],
            version=best["version"],
            python=best["python"],
            notes=best["notes"],
            same_book=None if best.get("top") is None else best["top"] == ours_top,
        )
        if name != "tradestream":
            entry["ours_x"] = statistics.median(
                ratio_to_ours(r["tradestream"], r[name])
                for r in rounds
                if name in r and "error" not in r[name]
            )
        summary["engines"][name] = entry
    for name in adapters.ADAPTERS:
        errors = [r[name]["error"] for r in rounds if "error" in r.get(name, {})]
        if errors and name not in summary["engines"]:
            skipped[name] = f"failed: {errors[0]}"
    return summary


def report(summary: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"{args.commands:,} commands, seed {args.seed}, {args.rounds} round(s), "
        f"{os.cpu_count()} CPUs, {platform.platform()}",
        "",
        "| engine | kind | Python | commands/s | p50 µs | p99 µs | p99.9 µs | ours N x faster | same book |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, entry in summary["engines"].items():
        kind = (
            "ours"
            if name.startswith("tradestream")
            else ("compiled" if name in adapters.COMPILED else "pure Python")
        )
        ratio = "—" if name == "tradestream" else f"{entry['ours_x']:.2f}"
        done = "" if not entry["truncated"] else f" (first {entry['commands']:,} only)"
        lines.append(
            f"| {name} {entry['version']} | {kind} | {entry['python']} | {entry['per_second']:,.0f}{done} | "
            f"{entry['p50_ns'] / 1000:.2f} | {entry['p99_ns'] / 1000:.2f} | {entry['p999_ns'] / 1000:.2f} | "
            f"{ratio} | {'—' if name == 'tradestream' else entry['same_book']} |"
        )
    lines.append("")
    for name, entry in summary["engines"].items():
        for note in entry["notes"]:
            lines.append(f"- {name}: {note}")
    for name, why in summary["skipped"].items():
        lines.append(f"- {name}: skipped, {why}")
    counted = {name: e["instructions"] for name, e in summary["engines"].items() if e.get("instructions")}
    if "tradestream" in counted:
        lines += [
            "",
            f"CPU instructions per command over the first {args.instructions:,} commands (cachegrind):",
            "",
            "| engine | instructions/command | ours uses N x fewer |",
            "|---|---:|---:|",
        ]
        for name, count in counted.items():
            fewer = "—" if name == "tradestream" else f"{count / counted['tradestream']:.2f}"
            lines.append(f"| {name} | {count:,.0f} | {fewer} |")
    ours = summary["engines"]["tradestream"]
    pure = {name: e for name, e in summary["engines"].items() if name in adapters.PURE_PYTHON}
    lines.append("")
    lines.append(
        f"ours: {ours['per_second']:,.0f} commands/s (target >= 400,000), "
        f"p99 {ours['p99_ns'] / 1000:.2f} µs (target < 20 µs)"
    )
    if pure:
        fastest = max(pure, key=lambda name: pure[name]["per_second"])
        lines.append(
            f"fastest pure-Python peer: {fastest}; ours is {pure[fastest]['ours_x']:.2f}x it (target 2x)"
        )
    return "\n".join(lines)


def parent(args: argparse.Namespace) -> None:
    wanted = args.engines.split(",") if args.engines else list(adapters.ADAPTERS)
    if "tradestream" not in wanted:
        wanted.insert(0, "tradestream")
    skipped: dict[str, str] = {}
    pythons: dict[str, str] = {}
    if args.no_setup:
        py311: str | None = sys.executable
        py312: str | None = args.python312 or find_interpreter((3, 12), None)
        why311 = why312 = ""
    else:
        py311, why311 = ensure_venv(
            VENV, find_interpreter((3, 11), args.python311), BENCH / "requirements.txt"
        )
        py312, why312 = ensure_venv(
            VENV312, find_interpreter((3, 12), args.python312), BENCH / "requirements-py312.txt"
        )
    for name in wanted:
        python, why = (py312, why312) if name in NEEDS_312 else (py311, why311)
        if python is None:
            skipped[name] = why or "no interpreter"
        else:
            pythons[name] = python
    if "tradestream" in skipped:
        pythons["tradestream"] = sys.executable
        del skipped["tradestream"]
    path = stream_file(args.commands, args.seed)
    rounds: list[dict[str, dict[str, Any]]] = []
    for number in range(1, args.rounds + 1):
        results: dict[str, dict[str, Any]] = {}
        for name, python in pythons.items():  # interleaved, so slow drift in the machine hits every engine
            results[name] = run_child(python, name, path, args.budget)
            result = results[name]
            shown = result.get("error") or f"{result['per_second']:,.0f} commands/s"
            print(f"round {number}: {name}: {shown}", flush=True)
        rounds.append(results)
    summary = summarise(rounds, skipped)
    if args.instructions:
        for name, python in pythons.items():
            if name in summary["engines"]:
                count = count_instructions(python, name, path, args.instructions)
                summary["engines"][name]["instructions"] = count
                print(f"instructions: {name}: {count if count is None else round(count):,}", flush=True)
    text = report(summary, args)
    print()
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"matching-{args.commands}-{args.seed}.json"
    out.write_text(
        json.dumps({"args": vars(args), "rounds": rounds, "summary": summary}, indent=1, default=str)
    )
    print(f"\nraw results: {out.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commands", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; medians are reported")
    parser.add_argument("--engines", help=f"comma-separated subset of {','.join(adapters.ADAPTERS)}")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per engine run before it is cut")
    parser.add_argument("--no-setup", action="store_true", help="use the running interpreter, build no venv")
    parser.add_argument("--python311", help="interpreter for bench/.venv")
    parser.add_argument("--python312", help="interpreter for bench/.venv312 (matching-engine needs >= 3.12)")
    parser.add_argument(
        "--instructions",
        type=int,
        metavar="N",
        help="also count CPU instructions per command over the first N commands under valgrind (cachegrind): "
        "deterministic, so it still ranks engines when other work shares the machine",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", choices=("setup", "run"), help=argparse.SUPPRESS)
    parser.add_argument("--stream", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.stream, args.budget, args.limit, args.count)
    else:
        parent(args)


if __name__ == "__main__":
    main()
