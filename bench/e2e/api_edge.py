"""CPU per API request, server and clients, with the local cloud's HTTP server and with werkzeug's before it.

    python bench/e2e/api_edge.py --requests 2000 --rounds 7

The API edge (localcloud/apiserver.py) serves the REST API with waitress, which keeps each client's
connection open as API Gateway does; it used to be werkzeug's development server, which closes every
connection after one answer, so each request cost a TCP handshake and a new server thread, and wrote
an access line (kept here, to stderr, as the local cloud wrote it to its log). Both serve
the same small WSGI application here, in this process, to `--threads` client threads, each with its
own `requests.Session` as the bots use; the CPU of the whole process (server and clients) per request
is what the machine pays for the HTTP part of an API call. Rounds alternate the two servers' order;
the report gives each round's numbers and the median ratio.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from bench.e2e import rounds  # noqa: E402
from localcloud.apiserver import ApiServer  # noqa: E402
from localcloud.cloud import free_port, wait_for_port  # noqa: E402

HOST = "127.0.0.1"
BODY = b'{"orderId": "0f6c2a8e", "status": "ACCEPTED"}'


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("202 Accepted", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]


class Werkzeug:
    """The API edge as it was: werkzeug's threaded development server."""

    def __init__(self, port: int) -> None:
        self.server = make_server(HOST, port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def measure(kind: str, *, requests_total: int, threads: int) -> tuple[float, float]:
    """(CPU ms per request of this process, requests a second)."""
    port = free_port()
    server: Any = ApiServer(app, HOST, port) if kind == "waitress" else Werkzeug(port)
    server.start()
    wait_for_port(HOST, port, 10)
    per_thread = requests_total // threads
    url = f"http://{HOST}:{port}/api/orders"
    sessions = [requests.Session() for _ in range(threads)]

    done = [0] * threads
    failures: list[BaseException] = []

    def client(thread: int, count: int) -> None:
        try:
            for _ in range(count):
                response = sessions[thread].post(url, data=b'{"ticker": "ACME", "side": "BUY"}', timeout=10)
                response.raise_for_status()
                done[thread] += 1
        except BaseException as exc:  # a thread's failure must fail the round, not shrink its count
            failures.append(exc)

    try:
        for thread in range(threads):  # connections and the server's threads set up: not measured
            client(thread, 5)
        done[:] = [0] * threads
        workers = [threading.Thread(target=client, args=(t, per_thread)) for t in range(threads)]
        cpu, wall = time.process_time(), time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        for s in sessions:
            s.close()
        server.stop()
    if failures:
        raise RuntimeError(f"{kind}: {len(failures)} client thread(s) failed") from failures[0]
    return cpu * 1000 / sum(done), sum(done) / wall


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="per server and round")
    parser.add_argument("--threads", type=int, default=24, help="client threads (the bots' default)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    def one(kind: str, round_: int) -> float:
        cpu_ms, rate = measure(kind, requests_total=args.requests, threads=args.threads)
        print(
            f"round {round_ + 1}: {kind:8} {cpu_ms:.2f} ms of CPU a request, {rate:.0f} requests/s",
            flush=True,
        )
        return cpu_ms

    per_round = rounds.alternating(["werkzeug", "waitress"], args.rounds, one)
    print(rounds.ratio_line("werkzeug / waitress, CPU per request", per_round, "werkzeug", "waitress"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
