"""Where the audit finds a deployment: clients through localstack-client, names from the template.

Table and queue names come from the same rule the local cloud uses (`localcloud.resources`:
`{stack}-{LogicalId}` unless the template names the resource), so there is no second naming rule to
drift; a stack deployed by SAM/CloudFormation (LocalStack, AWS) is resolved from its stack resources
instead (`names_from_cloudformation`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from tradestream.audit.checks import AuditOptions, Finding, Report, audit
from tradestream.audit.dataset import Dataset
from tradestream.audit.reader import DEAD_LETTER_QUEUES, LANE, TABLES, Deployment, Reader

DEFAULT_ENDPOINT = "127.0.0.1:4566"


@dataclass(frozen=True, kw_only=True)
class AuditConfig:
    stack_name: str = "tradestream-local"
    template: Path = Path("template.yaml")
    # host:port of "the local endpoint" (moto of the local cloud, or LocalStack's edge); AWS_ENDPOINT_URL,
    # when set, wins (localstack-client's own rule).
    endpoint: str = DEFAULT_ENDPOINT
    names_from_cloudformation: bool = False
    grace: timedelta = timedelta(seconds=30)
    fail_on_dead_letters: bool = False
    peek_limit: int = 100


def session(endpoint: str) -> Any:
    """A localstack-client session: the one way scripts get clients for the local endpoint."""
    import localstack_client.session  # noqa: PLC0415 - a dev dependency; the layer never imports this module

    return localstack_client.session.Session(localstack_host=endpoint)


def names_from_template(template: Path, stack_name: str) -> dict[str, str]:
    """Physical names exactly as the local cloud gives them (its own code, not a copy of the rule)."""
    from localcloud import template as loader  # noqa: PLC0415 - the local cloud is a dev-only package
    from localcloud.resources import LocalResources  # noqa: PLC0415

    resources = LocalResources(loader.load(template), stack_name=stack_name, endpoint="")
    return dict(resources.names)


def names_from_cloudformation(cloudformation: Any, stack_name: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page["StackResourceSummaries"]:
            physical = str(resource.get("PhysicalResourceId", ""))
            # A queue's physical id is its URL; everything else here is its name.
            names[resource["LogicalResourceId"]] = physical.rstrip("/").rsplit("/", 1)[-1]
    return names


def resolve(config: AuditConfig, clients: Any) -> Deployment:
    if config.names_from_cloudformation:
        names = names_from_cloudformation(clients.client("cloudformation"), config.stack_name)
    else:
        names = names_from_template(config.template, config.stack_name)
    sqs = clients.client("sqs")
    missing = [lid for lid in (*TABLES, LANE, *DEAD_LETTER_QUEUES) if lid not in names]
    if missing:
        raise LookupError(f"the stack has no {', '.join(missing)}")
    return Deployment(
        tables={lid: names[lid] for lid in TABLES},
        queues={
            lid: sqs.get_queue_url(QueueName=names[lid])["QueueUrl"] for lid in (LANE, *DEAD_LETTER_QUEUES)
        },
    )


def run_audit(config: AuditConfig) -> tuple[Dataset, Report]:
    clients = session(config.endpoint)
    deployment = resolve(config, clients)
    reader = Reader(
        deployment,
        dynamodb=clients.client("dynamodb"),
        sqs=clients.client("sqs"),
        peek_limit=config.peek_limit,
    )
    data = reader.read()
    options = AuditOptions(grace=config.grace, fail_on_dead_letters=config.fail_on_dead_letters)
    return data, audit(data, options)


def render(data: Dataset, report: Report, *, show: int = 20) -> str:
    """A human summary: what was read, every check with its verdict, the first `show` findings of each."""
    lines = [
        f"read {len(data.orders)} orders, {sum(len(e) for e in data.log.values())} log entries of "
        f"{len(data.log)} tickers, {len(data.journal)} journal rows, {len(data.positions)} positions, "
        f"{len(data.candles)} candles, {len(data.dead_letters)} dead letters",
    ]
    failed: Counter[str] = Counter(f.check for f in report.violations)
    for check in sorted(set(report.checked) | set(failed)):
        family = sum(n for c, n in failed.items() if c == check or c.startswith(check + "."))
        verdict = f"FAIL {family:>5}" if family else "ok        "
        lines.append(f"  {verdict} {check:<26} {report.checked.get(check, 0):>7} checked")
    lines.extend(_section("violations", report.violations, show))
    lines.extend(_section("notes", report.notes, show))
    lines.append("AUDIT PASSED" if report.ok else f"AUDIT FAILED: {len(report.violations)} violation(s)")
    return "\n".join(lines)


def _section(title: str, findings: list[Finding], show: int) -> list[str]:
    if not findings:
        return []
    lines = [f"{title}:"]
    by_check: dict[str, list[Finding]] = {}
    for finding in findings:
        by_check.setdefault(finding.check, []).append(finding)
    for check, items in sorted(by_check.items()):
        lines.append(f"  {check}: {len(items)}")
        lines.extend(f"    {item.subject}: {item.detail}" for item in items[:show])
        if len(items) > show:
            lines.append(f"    ... {len(items) - show} more")
    return lines
