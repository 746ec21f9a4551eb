"""Command line of the local cloud: `run`, `invoke` (`sam local invoke` without Docker), `recycle`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from localcloud.cloud import LocalCloud, Settings, freeze_heap, stop_with_parent
from localcloud.errors import InvocationError, LocalCloudError


def _pairs(values: list[str]) -> dict[str, str]:
    result = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"expected KEY=VALUE, got {item!r}")
        result[key] = Path(value[1:]).read_text() if value.startswith("@") else value
    return result


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return Settings(
        template=Path(args.template),
        host=args.host,
        aws_port=args.aws_port,
        api_port=args.api_port,
        stack_name=args.stack_name,
        parameters=_pairs(args.parameter_overrides),
        ssm_parameters=_pairs(args.ssm),
        **overrides,
    )


def _dynamodb_port(value: str) -> int | None:
    return None if value.strip().lower() in {"off", "none", ""} else int(value)


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def cmd_run(args: argparse.Namespace) -> int:
    cloud = LocalCloud(
        _settings(
            args,
            prewarm=True,
            dynamodb_port=args.dynamodb_port,
            dynamodb_per_table=args.dynamodb_per_table,
        )
    )
    signals: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        # Only record it: a handler that takes a lock (Event.set) can deadlock with the main thread.
        signals.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    stop_with_parent()
    cloud.start()
    freeze_heap()
    assert cloud.wiring is not None
    print(
        f"TradeStream local cloud is up ({len(cloud.wiring.functions)} functions, "
        f"{len(cloud.wiring.event_sources)} event sources)"
    )
    print(f"  API:           {cloud.api_url}")
    print(f"  AWS endpoint:  {cloud.endpoint}   (AWS_ENDPOINT_URL={cloud.endpoint})")
    if cloud.dynamodb_endpoint:
        print(f"  DynamoDB:      {cloud.dynamodb_endpoint}   (its own moto; {cloud.endpoint} relays to it)")
    if cloud.dynamodb_tables:
        print(
            f"                 each of its {len(cloud.dynamodb_tables)} tables in a moto of its own behind it"
        )
    print(f"  try:           curl -s {cloud.api_url}/actuator/health")
    print("Ctrl-C stops everything.", flush=True)
    while not signals:
        time.sleep(0.1)
    print("stopping...", flush=True)
    cloud.stop()
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    event = json.loads(Path(args.event).read_text()) if args.event != "-" else json.load(sys.stdin)
    external = f"http://{args.host}:{args.aws_port}" if _answers(args.host, args.aws_port) else None
    settings = _settings(args, external_endpoint=external, start_pollers=False, start_api=False)
    with LocalCloud(settings) as cloud:
        try:
            result = cloud.invoke(args.function, event)
        except InvocationError as exc:
            print(json.dumps(exc.payload(), indent=2))
            return 1
    print(json.dumps(result, indent=2))
    return 0


def cmd_recycle(args: argparse.Namespace) -> int:
    url = f"http://{args.host}:{args.api_port}/_localcloud/functions/{args.function}/recycle"
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10) as response:
        print(response.read().decode())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__)
    parser.add_argument("--template", default=os.environ.get("LOCALCLOUD_TEMPLATE", "template.yaml"))
    parser.add_argument("--host", default=os.environ.get("LOCALCLOUD_HOST", "127.0.0.1"))
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("LOCALCLOUD_AWS_PORT", "4566")))
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("LOCALCLOUD_API_PORT", "3000")))
    parser.add_argument("--stack-name", default=os.environ.get("LOCALCLOUD_STACK_NAME", "tradestream-local"))
    parser.add_argument(
        "--parameter-override",
        dest="parameter_overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a template parameter value (repeatable)",
    )
    parser.add_argument(
        "--ssm",
        action="append",
        default=[],
        metavar="NAME=VALUE|@FILE",
        help="a SecureString parameter to create before functions start (repeatable)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve the template until Ctrl-C")
    run.add_argument(
        "--dynamodb-port",
        type=_dynamodb_port,
        default=_dynamodb_port(os.environ.get("LOCALCLOUD_DYNAMODB_PORT", "0")),
        help="DynamoDB is served by a moto process of its own on this port (default 0: any free port; "
        "the AWS port relays DynamoDB calls to it, so clients need not know it); "
        "'off': one moto serves every service",
    )
    run.add_argument(
        "--dynamodb-per-table",
        action="store_true",
        default=os.environ.get("LOCALCLOUD_DYNAMODB_PER_TABLE", "") not in {"", "0"},
        help="with DynamoDB's own moto: each table in a moto of its own behind it (tablerouter.py: "
        "lower latency at moderate load, less throughput on two cores; docs/benchmarks.md)",
    )
    invoke = commands.add_parser("invoke", help="invoke one function with an event file and print its result")
    invoke.add_argument("function", help="logical id or name of the function")
    invoke.add_argument("--event", "-e", required=True, help="event JSON file, or - for stdin")
    recycle = commands.add_parser("recycle", help="force cold starts of a function of a running local cloud")
    recycle.add_argument("function")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        handler = {"run": cmd_run, "invoke": cmd_invoke, "recycle": cmd_recycle}[args.command]
        return handler(args)
    except LocalCloudError as exc:
        print(f"localcloud: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
