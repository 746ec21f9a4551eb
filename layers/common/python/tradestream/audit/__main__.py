"""`python -m tradestream.audit`: check every invariant on a running deployment; exit 0 only if all hold."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

from botocore.exceptions import ClientError, EndpointConnectionError

from tradestream.audit.runner import DEFAULT_ENDPOINT, AuditConfig, render, run_audit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tradestream.audit", description=__doc__)
    parser.add_argument("--stack-name", default=os.environ.get("LOCALCLOUD_STACK_NAME", "tradestream-local"))
    parser.add_argument("--template", default=os.environ.get("LOCALCLOUD_TEMPLATE", "template.yaml"))
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("LOCALSTACK_HOST", DEFAULT_ENDPOINT),
        metavar="HOST:PORT",
        help="the AWS endpoint (moto of the local cloud, LocalStack's edge); AWS_ENDPOINT_URL wins if set",
    )
    parser.add_argument(
        "--names-from-cloudformation",
        action="store_true",
        help="resolve table and queue names from the CloudFormation stack (a SAM deployment)",
    )
    parser.add_argument(
        "--grace-seconds",
        type=float,
        default=30.0,
        help="how long a NEW order may be missing from the log before it counts as lost (in flight)",
    )
    parser.add_argument("--fail-on-dead-letters", action="store_true", help="a non-empty DLQ fails the audit")
    parser.add_argument("--peek", type=int, default=100, help="dead letters listed per DLQ at most")
    parser.add_argument("--show", type=int, default=20, help="findings printed per check at most")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    args = parser.parse_args(argv)
    config = AuditConfig(
        stack_name=args.stack_name,
        template=Path(args.template),
        endpoint=args.endpoint,
        names_from_cloudformation=args.names_from_cloudformation,
        grace=timedelta(seconds=args.grace_seconds),
        fail_on_dead_letters=args.fail_on_dead_letters,
        peek_limit=args.peek,
    )
    try:
        data, report = run_audit(config)
    except EndpointConnectionError as exc:
        print(
            f"audit: nothing answers at {exc.kwargs.get('endpoint_url')}: start the local cloud (make run) "
            "or point --endpoint at a deployment",
            file=sys.stderr,
        )
        return 2
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in (
            "ResourceNotFoundException",
            "AWS.SimpleQueueService.NonExistentQueue",
        ):
            raise
        print(f"audit: stack {config.stack_name!r} is not there ({exc}); --stack-name?", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "checked": dict(report.checked),
                    "violations": [vars_of(f) for f in report.violations],
                    "notes": [vars_of(f) for f in report.notes],
                },
                indent=2,
            )
        )
    else:
        print(render(data, report, show=args.show))
    return 0 if report.ok else 1


def vars_of(finding: object) -> dict[str, str]:
    return {name: str(getattr(finding, name)) for name in ("check", "subject", "detail")}


if __name__ == "__main__":
    sys.exit(main())
