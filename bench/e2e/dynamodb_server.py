"""The DynamoDB moto's CPU per call with DynamoDB's requests through moto's Flask application and without.

    python bench/e2e/dynamodb_server.py --rate 150 --rounds 5

One moto as the local cloud runs it (`python -m localcloud.motoserver`) per variant: as committed, where
DynamoDB's requests go straight to moto's handler (`localcloud/motospeed.py`, DirectDynamoDB), and the
baseline, the same server with that wrapper left out, so every request goes through moto's Flask
application as before. The load of bench/e2e/moto_switch.py (guarded UpdateItems at `--rate` a second
from 16 threads, and a probe timing GetItems); the variants alternate their order from round to round.
Prints each round's moto CPU per call and the probe's p50/p99, then the median ratio of CPU per call.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.e2e import rounds  # noqa: E402 - importable once the lines above ran
from bench.e2e.moto_switch import measure_server  # noqa: E402

VARIANTS = {
    "through Flask": (
        "from localcloud import motoserver, motospeed; "
        "motospeed.DirectDynamoDB = lambda app: app; motoserver.main()"
    ),
    "direct": "from localcloud.motoserver import main; main()",
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=150.0, help="UpdateItems a second from the load")
    parser.add_argument("--seconds", type=float, default=15.0, help="per variant and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    def one(name: str, round_: int) -> float:
        m = measure_server(VARIANTS[name], rate=args.rate, seconds=args.seconds)
        print(
            f"round {round_ + 1}: {name:13} {m['ms_per_call']:.2f} ms of moto CPU a call "
            f"({m['moto_cpu']:.2f} of a core, load {m['load']:.0f}/s), probe GetItem p50 "
            f"{m['p50']:.1f} p99 {m['p99']:.1f} ms",
            flush=True,
        )
        return m["ms_per_call"]

    per_round = rounds.alternating(list(VARIANTS), args.rounds, one)
    print(
        rounds.ratio_line("through Flask / direct, moto CPU per call", per_round, "through Flask", "direct")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
