"""Helpers of the local cloud suite: one LocalCloud per module, HTTP, polling, process trees, moto patches."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from localcloud.cloud import LocalCloud, Settings, free_port, wait_for_port
from localcloud.resources import client

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
STACK = "lc-test"
T = TypeVar("T")


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (free_port() alone may hand out the same port twice)."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on port: nothing listens there (connections in TIME_WAIT are fine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


@contextmanager
def running_cloud(template: Path, **overrides: Any) -> Iterator[LocalCloud]:
    aws_port, api_port = free_ports(2)
    settings = Settings(
        template=template, aws_port=aws_port, api_port=api_port, stack_name=STACK, **overrides
    )
    with LocalCloud(settings) as cloud:
        yield cloud


def aws(cloud: LocalCloud, service: str) -> Any:
    return client(service, cloud.endpoint)


def wait_until(probe: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.1) -> T:
    """Call probe until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    cloud: LocalCloud,
    method: str,
    path: str,
    *,
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    timeout: float = 30,
) -> HttpResponse:
    """A raw HTTP request (http.client, so a header can be sent twice)."""
    connection = http.client.HTTPConnection(cloud.settings.host, cloud.settings.api_port, timeout=timeout)
    try:
        connection.putrequest(method, path)
        for name, value in headers or []:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return HttpResponse(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


def scan(cloud: LocalCloud, table: str) -> list[dict[str, Any]]:
    dynamodb = aws(cloud, "dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- processes --------------------------------------------------------------------------------------
def children_of(pid: int) -> set[int]:
    """Direct children of pid, from /proc/*/stat (field 4 is the parent pid)."""
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # the command name (field 2) is in parentheses and may contain spaces
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def descendants_of(pid: int) -> set[int]:
    result: set[int] = set()
    frontier = {pid}
    while frontier:
        children = set().union(*(children_of(p) for p in frontier)) - result
        result |= children
        frontier = children
    return result


def alive(pid: int) -> bool:
    """Whether pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "localcloud", *args]


def start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli(*args),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for_api(host: str, port: int, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"the local cloud exited with {process.returncode}: {err}")
        try:
            wait_for_port(host, port, 0.5)
            return
        except Exception:  # keep waiting until the deadline
            continue
    raise AssertionError(f"nothing answered on {host}:{port}")


@contextmanager
def restored(*attributes: tuple[Any, str]) -> Iterator[None]:
    """moto as it was after the block: our patches of moto are process-wide, and other suites use moto."""
    missing = object()  # a patch may add what the owner only inherited: deleted again after
    saved = [(owner, name, vars(owner).get(name, missing)) for owner, name in attributes]
    try:
        yield
    finally:
        for owner, name, value in saved:
            if value is missing:
                if name in vars(owner):
                    delattr(owner, name)
            else:
                setattr(owner, name, value)


def answer(call: Callable[[], Any]) -> Any:
    """What DynamoDB said: the response without its metadata, or the error's code and message."""
    try:
        response = dict(call())
    except Exception as error:  # every error moto raises is part of the answer
        said: dict[str, Any] | None = getattr(error, "response", None)
        if said is None:  # raised before or instead of an answer (moto's mock raises in the caller)
            return ("error", type(error).__name__, str(error), None)
        info = said.get("Error", {})
        return ("error", info.get("Code"), info.get("Message"), said.get("Item"))
    response.pop("ResponseMetadata", None)
    return response


def create_table(ddb: Any, name: str, *keys: tuple[str, str, str]) -> Any:
    """An on-demand table keyed by (attribute, type, HASH or RANGE) pairs; DynamoDB's answer."""
    return ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": a, "KeyType": k} for a, _, k in keys],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )


@dataclass(frozen=True)
class Invocation:
    """One batch a Kinesis consumer fixture (functions/streamer) recorded in the stack's DeliveriesTable."""

    function: str
    started: float
    outcome: str
    records: list[dict[str, Any]]


def invocations(cloud: LocalCloud, function: str) -> list[Invocation]:
    """The batches `function` (a logical id) recorded, in the order its invocations started."""
    found = [
        Invocation(
            function=item["function"]["S"],
            started=float(item["started"]["N"]),
            outcome=item["outcome"]["S"],
            records=json.loads(item["records"]["S"]),
        )
        for item in scan(cloud, f"{STACK}-DeliveriesTable")
    ]
    return sorted((i for i in found if i.function == f"{STACK}-{function}"), key=lambda i: i.started)
