"""The REST API's HTTP server: waitress, keeping connections alive and each header line as it was sent.

API Gateway keeps a client's HTTP/1.1 connection open between requests. werkzeug's development server,
which served the API before, closes every connection after one answer (http.server cannot drain a
request body before the next request line), so each request of a bot or a browser paid a TCP
handshake and a new server thread on the shared cores. waitress (already serving moto, see
localcloud/motospeed.py) keeps connections alive and runs requests on a fixed pool of threads.
"""

from __future__ import annotations

import threading
from typing import Any

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, get_header_lines
from waitress.rfc7230 import HEADER_FIELD_RE
from waitress.server import create_server
from waitress.task import WSGITask
from waitress.wasyncore import close_all

# The WSGI environ key under which the API edge finds the header lines as the client sent them.
RAW_HEADERS = "localcloud.raw_headers"

# Requests in flight at once, each holding a thread while its function runs (up to API Gateway's 29 s):
# more than the benchmark's bots and probes ever have outstanding. Idle keep-alive connections hold none.
API_THREADS = 64


class _RawHeadersParser(HTTPRequestParser):  # type: ignore[misc]  # waitress ships no types
    """Also keeps the header lines as sent: WSGI joins repeated headers with commas and renames them
    (HTTP_X_FOO), but an event's multiValueHeaders lists each value under the name the client used."""

    raw_headers: list[tuple[str, str]]

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)  # raises on a malformed header, so every line matches below
        raw: list[tuple[str, str]] = []
        for line in get_header_lines(header_plus[header_plus.find(b"\r\n") + 2 :]):
            name, value = HEADER_FIELD_RE.match(line).group("name", "value")
            if b"_" in name:
                continue  # waitress drops these from the environ; the two views stay the same
            raw.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        self.raw_headers = raw


class _RawHeadersTask(WSGITask):  # type: ignore[misc]
    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()  # cached by the task: set once, read again
        environ[RAW_HEADERS] = getattr(self.request, "raw_headers", [])
        return environ


class _Channel(HTTPChannel):  # type: ignore[misc]
    parser_class = _RawHeadersParser
    task_class = _RawHeadersTask


class ApiServer:
    """Serves a WSGI application on host:port from a thread of its own until `stop()`."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        self._server = create_server(
            app,
            host=host,
            port=port,
            threads=API_THREADS,
            connection_limit=1000,
            channel_timeout=300,  # an idle keep-alive connection is closed after this many seconds
            ident="localcloud",
        )
        self._server.channel_class = _Channel  # read when a connection is accepted, i.e. from run()
        self._thread = threading.Thread(target=self._server.run, name="api", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Closes the listening socket and every connection, from the server's own loop (its map of
        sockets is not safe to change from another thread); requests still running finish on their own."""
        if self._thread.is_alive():
            self._server.trigger.pull_trigger(lambda: close_all(self._server._map))
            self._thread.join(timeout=5)
        else:
            close_all(self._server._map)
        self._server.task_dispatcher.shutdown(timeout=1)
