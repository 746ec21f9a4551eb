"""The local cloud for the end-to-end benchmark, as a child process that counts its own AWS calls.

    python bench/e2e/cloud.py --aws-port P --api-port Q --stack-name S

It is `python -m localcloud run` plus the call-count hook in this process too: the SQS and Kinesis
pollers (ReceiveMessage, DeleteMessageBatch, GetRecords) run here, not in the function workers, and
the benchmark needs their calls next to the handlers'. LOCALCLOUD_CALL_COUNTS must name the directory;
the function workers inherit it. Prints READY when the API answers; SIGTERM stops everything.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _path in (str(ROOT / "layers" / "common" / "python"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from localcloud import callcount, motoserver  # noqa: E402 - importable once the lines above ran
from localcloud.cloud import LocalCloud, Settings, freeze_heap, wait_for_port  # noqa: E402
from tradestream.auth import generate_dev_keypair  # noqa: E402

SIGNING_KEY_PARAMETER = "/tradestream/local/jwt-signing-key"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--aws-port", type=int, required=True)
    parser.add_argument("--api-port", type=int, required=True)
    parser.add_argument("--stack-name", default="tradestream-local")
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    parser.add_argument(
        "--stock-moto",
        action="store_true",
        help="run moto with its own request handling (without localcloud/motospeed.py)",
    )
    parser.add_argument(
        "--dynamodb-port", type=int, default=None, help="DynamoDB in a moto process of its own on this port"
    )
    parser.add_argument(
        "--dynamodb-per-table",
        action="store_true",
        help="with --dynamodb-port: each table in a moto process of its own (localcloud/tablerouter.py)",
    )
    parser.add_argument("--function-concurrency", type=int, default=None, help="workers per function")
    parser.add_argument("--sqs-pollers", type=int, default=None, help="pollers per SQS event source")
    args = parser.parse_args()
    if callcount.install_from_env("localcloud") is None:
        print(f"{callcount.ENV} is not set: calls would go uncounted", file=sys.stderr)
        return 2
    private_pem, public_pem = generate_dev_keypair(bits=2048)
    key = {
        "current": {"kid": "bench", "privateKeyPem": private_pem, "publicKeyPem": public_pem},
        "previous": [],
    }
    moto: subprocess.Popen[bytes] | None = None
    external: str | None = None
    if args.stock_moto:
        # Started here instead of by the local cloud, which then uses it as an external endpoint.
        moto = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localcloud.motoserver",
                motoserver.STOCK_SERVING,
                "-H",
                "127.0.0.1",
                "-p",
                str(args.aws_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
        )
        wait_for_port("127.0.0.1", args.aws_port, 30, moto)
        external = f"http://127.0.0.1:{args.aws_port}"
    settings = Settings(
        template=Path(args.template),
        aws_port=args.aws_port,
        api_port=args.api_port,
        stack_name=args.stack_name,
        ssm_parameters={SIGNING_KEY_PARAMETER: json.dumps(key)},
        external_endpoint=external,
        dynamodb_port=args.dynamodb_port,
        dynamodb_per_table=args.dynamodb_per_table,
    )
    if args.function_concurrency is not None:
        settings.function_concurrency = args.function_concurrency
    if args.sqs_pollers is not None:
        settings.sqs_pollers_per_source = args.sqs_pollers
    signals: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: signals.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _frame: signals.append(signum))
    cloud = LocalCloud(settings)
    cloud.start()
    # Every worker of every function before the first phase: cold starts are not what the benchmark
    # measures, and a pool that grows under load spends seconds of CPU on interpreter starts.
    cloud.prewarm(settings.function_concurrency)
    freeze_heap()
    print("READY", flush=True)
    while not signals:
        time.sleep(0.2)
    cloud.stop()
    if moto is not None:
        moto.terminate()
        moto.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
