"""The command line: `invoke` prints a handler's result, `run` stops everything it started on SIGTERM and
leaves nothing behind when it is killed, and a taken port is a readable error."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud, Settings, ensure_port_free
from localcloud.errors import PortInUse
from tests.localcloud.support import (
    FIXTURES,
    REPO,
    alive,
    cli,
    descendants_of,
    free_ports,
    port_is_free,
    start_cli,
    wait_for_api,
    wait_until,
)

TEMPLATE = FIXTURES / "api" / "template.yaml"
HOST = "127.0.0.1"


def http_get(port: int, path: str) -> int:
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        status_line = sock.makefile("rb").readline().decode()
    return int(status_line.split()[1])


@contextmanager
def listening(port: int) -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, port))
        sock.listen()
        yield sock


@contextmanager
def running(*extra: str) -> Iterator[tuple[subprocess.Popen[str], int, int]]:
    """`python -m localcloud run` on free ports, with two warm workers; killed at the end whatever happens."""
    aws_port, api_port = free_ports(2)
    process = start_cli(
        "--template", str(TEMPLATE), "--aws-port", str(aws_port), "--api-port", str(api_port), "run"
    )
    try:
        wait_for_api(HOST, api_port, process)
        assert http_get(api_port, "/counter") == 200
        assert http_get(api_port, "/crash") == 200
        yield process, aws_port, api_port
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def wait_gone(pids: set[int], timeout: float) -> None:
    wait_until(
        lambda: not any(alive(p) for p in pids), timeout=timeout, what=f"processes {sorted(pids)} to exit"
    )


# --- invoke ----------------------------------------------------------------------------------------
def test_invoke_prints_the_handlers_result(tmp_path: Path) -> None:
    event = {
        "resource": "/public/{proxy+}",
        "path": "/public/cli",
        "httpMethod": "GET",
        "headers": {"X-From": "cli"},
    }
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(event))
    [aws_port] = free_ports(1)
    done = subprocess.run(
        cli(
            "--template",
            str(TEMPLATE),
            "--aws-port",
            str(aws_port),
            "invoke",
            "EchoFunction",
            "--event",
            str(event_file),
        ),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["statusCode"] == 200
    body = json.loads(result["body"])
    assert body["event"] == event
    assert body["context"]["function_name"] == "tradestream-local-EchoFunction"
    assert (
        body["env"]["QUEUE_URL"] == f"http://{HOST}:{aws_port}/123456789012/tradestream-local-WorkQueue.fifo"
    )
    assert port_is_free(aws_port)  # the moto it started is gone with it


# --- run -------------------------------------------------------------------------------------------
def test_run_stops_everything_on_sigterm() -> None:
    with running() as (process, aws_port, api_port):
        children = descendants_of(process.pid)
        assert len(children) >= 4, children  # two motos, two workers (plus multiprocessing's helper)
        # `run` serves DynamoDB from a moto of its own by default
        assert any(b"moto-dynamodb" in Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert "stopping..." in out
        wait_gone(children, timeout=10)
        assert port_is_free(aws_port)
        assert port_is_free(api_port)


def test_children_die_with_a_killed_run() -> None:
    """SIGKILL gives no chance to clean up: moto dies of PR_SET_PDEATHSIG, the workers of their pipe's EOF."""
    with running() as (process, aws_port, api_port):
        children = descendants_of(process.pid)
        assert len(children) >= 4, children
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        wait_gone(children, timeout=10)
        both_free = lambda: port_is_free(aws_port) and port_is_free(api_port)  # noqa: E731
        wait_until(both_free, timeout=5, what=f"ports {aws_port} and {api_port} to be released")


# --- ports -----------------------------------------------------------------------------------------
def test_taken_api_port_is_a_readable_error_before_anything_starts() -> None:
    aws_port, api_port = free_ports(2)
    with listening(api_port):
        cloud = LocalCloud(Settings(template=TEMPLATE, aws_port=aws_port, api_port=api_port))
        with pytest.raises(PortInUse, match=rf"^127\.0\.0\.1:{api_port} is already in use; "):
            cloud.start()
    assert port_is_free(aws_port)  # moto was never started


def test_taken_aws_port_is_a_readable_error_on_the_command_line() -> None:
    aws_port, api_port = free_ports(2)
    with listening(aws_port):
        started = time.monotonic()
        done = subprocess.run(
            cli("--template", str(TEMPLATE), "--aws-port", str(aws_port), "--api-port", str(api_port), "run"),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert done.stderr.startswith(f"localcloud: 127.0.0.1:{aws_port} is already in use; ")
    assert "LOCALCLOUD_AWS_PORT" in done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 30
    assert port_is_free(api_port)


def test_a_port_with_connections_in_time_wait_is_not_in_use() -> None:
    """What a server that just stopped leaves behind must not block the next start (make run twice)."""
    [port] = free_ports(1)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((HOST, port))
    server.listen()
    client = socket.create_connection((HOST, port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end of the connection stays in TIME_WAIT
    server.close()
    time.sleep(0.1)
    client.close()
    ensure_port_free(HOST, port)
