"""`python -m tradestream.bots`: simulated traders against the API, then quiescence and the audit."""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from tradestream.audit import AuditConfig, render
from tradestream.audit.runner import DEFAULT_ENDPOINT
from tradestream.bots.audit import settled_audit
from tradestream.bots.plan import DEFAULT_MIX, Persona, Plan, personas, tickers
from tradestream.bots.simulation import Fleet, Run, printer, wait_for_quiescence


def parse_mix(raw: str) -> dict[Persona, float]:
    """ "mm=0.25,taker=0.2,retail=0.45,canceller=0.1" -> weights per persona."""
    mix: dict[Persona, float] = {}
    for part in raw.split(","):
        name, _, weight = part.partition("=")
        mix[Persona(name.strip())] = float(weight)
    return mix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tradestream.bots", description=__doc__)
    parser.add_argument("--api", default=os.environ.get("TRADESTREAM_API", "http://127.0.0.1:3000"))
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--tickers", type=int, default=4)
    parser.add_argument("--rate", type=float, default=20.0, help="offered orders per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of trading")
    parser.add_argument("--seed", type=int, default=7, help="the same seed sends the same requests")
    parser.add_argument(
        "--mix",
        type=parse_mix,
        default=DEFAULT_MIX,
        help="persona weights, e.g. mm=0.25,taker=0.2,retail=0.45,canceller=0.1",
    )
    parser.add_argument("--workers", type=int, default=16, help="threads sending requests")
    parser.add_argument(
        "--probe-rate",
        type=float,
        default=0.5,
        help="orders a second of each kind followed to their end (0: off); their GETs load the API too",
    )
    parser.add_argument("--quiesce-timeout", type=float, default=120.0)
    parser.add_argument("--no-audit", action="store_true")
    parser.add_argument("--endpoint", default=os.environ.get("LOCALSTACK_HOST", DEFAULT_ENDPOINT))
    parser.add_argument("--stack-name", default=os.environ.get("LOCALCLOUD_STACK_NAME", "tradestream-local"))
    parser.add_argument("--template", default=os.environ.get("LOCALCLOUD_TEMPLATE", "template.yaml"))
    parser.add_argument("--json", type=Path, help="write the run's summary here")
    args = parser.parse_args(argv)

    show = printer()
    fleet = Fleet.of(args.api, args.users, seed=args.seed)
    print(f"signing in {args.users} users at {args.api} ...", file=sys.stderr)
    fleet.sign_in()
    plan = Plan(
        seed=args.seed,
        roles=personas(args.users, args.mix),
        symbols=tickers(args.tickers),
        run=uuid.uuid4().hex[:8],
    )
    run = Run(
        fleet,
        plan,
        rate=args.rate,
        duration=args.duration,
        workers=args.workers,
        probe_rate=args.probe_rate,
        progress=show,
    )
    result = run.execute()
    print(file=sys.stderr)
    summary = result.summary()
    print(json.dumps(summary, indent=2, default=str))
    quiet = wait_for_quiescence(fleet, timeout=args.quiesce_timeout, progress=show)
    print(file=sys.stderr)
    summary["quiescent_after_seconds"] = quiet
    print("quiescent after", "never" if quiet is None else f"{quiet:.1f}s", file=sys.stderr)
    ok = quiet is not None and result.stats.errors == 0
    if not args.no_audit:
        config = AuditConfig(
            stack_name=args.stack_name,
            template=Path(args.template),
            endpoint=args.endpoint,
            grace=timedelta(seconds=30),
        )
        data, report = settled_audit(config, progress=show)
        print(file=sys.stderr)
        print(render(data, report))
        summary["audit"] = {"ok": report.ok, "violations": len(report.violations)}
        ok = ok and report.ok
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
