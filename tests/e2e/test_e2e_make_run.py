"""`make run`, the README's command: it serves the API, and killing make stops everything it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from localcloud.cloud import free_port
from tests.support import ROOT


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _bound(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_make_run_serves_health_and_sigterm_to_make_stops_everything(tmp_path: Path) -> None:
    aws_port, api_port = free_port(), free_port()
    log = (tmp_path / "make-run.log").open("w")  # a file, not a pipe: a full pipe would stall the cloud
    env = {**os.environ, "LOCALCLOUD_AWS_PORT": str(aws_port), "LOCALCLOUD_API_PORT": str(api_port)}
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        answer = None
        while time.monotonic() < deadline and make.poll() is None:
            try:
                answer = requests.get(f"http://127.0.0.1:{api_port}/actuator/health", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert answer is not None, "make run never answered"
        assert (answer.status_code, answer.json()) == (200, {"status": "UP"})
        started = _descendants(make.pid)
        assert started, "make run started the local cloud under make"

        make.send_signal(signal.SIGTERM)  # make itself, not its children: they must follow it down
        make.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (any(_alive(p) for p in started) or _bound(api_port)):
            time.sleep(0.2)
        assert not [p for p in started if _alive(p)], "processes outlived make"
        assert not _bound(api_port) and not _bound(aws_port), "a port is still bound"
    finally:
        if make.poll() is None:
            make.kill()
        for pid in _descendants(make.pid):
            os.kill(pid, signal.SIGKILL)
    log.close()
    output = (tmp_path / "make-run.log").read_text()
    assert f"curl -s http://127.0.0.1:{api_port}/actuator/health" in output
