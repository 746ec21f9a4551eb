"""The REST API's HTTP server: waitress, keeping connections alive and each header line as it was sent.

API Gateway keeps a client's HTTP/1.1 connection open between requests. werkzeug's development server,
which served the API before, closes every connection after one answer (http.server cannot drain a
request body before the next request line), so each request of a bot or a browser paid a TCP
handshake and a new server thread on the shared cores. waitress (already serving moto, see
localcloud/motospeed.py) keeps connections alive and runs requests on a fixed pool of threads. It writes
response header names capitalised (X-Amzn-Requestid); HTTP/1.1 header names are case-insensitive.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, get_header_lines
from waitress.rfc7230 import HEADER_FIELD_RE
from waitress.server import create_server
from waitress.task import WSGITask

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
            # Names with an underscore too: waitress leaves them out of the environ (X_Foo could pose as
            # X-Foo there), but API Gateway hands them to the function as sent.
            name, value = HEADER_FIELD_RE.match(line).group("name", "value")
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
        # One address, as werkzeug's server bound it (IPv4 unless the host is an IPv6 address): given a
        # name, waitress binds every address it resolves to (localhost: ::1 and 127.0.0.1) behind a
        # server that has no channel class to set.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4]
        self._server = create_server(
            app,
            listen=f"[{address[0]}]:{port}" if family == socket.AF_INET6 else f"{address[0]}:{port}",
            threads=API_THREADS,
            connection_limit=1000,
            channel_timeout=300,  # an idle keep-alive connection is closed after this many seconds
            # X-Forwarded-* and Forwarded stay in the environ, as API Gateway passes them on.
            clear_untrusted_proxy_headers=False,
            ident="localcloud",
        )
        self._server.channel_class = _Channel  # read when a connection is accepted, i.e. from run()
        self._thread = threading.Thread(target=self._server.run, name="api", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Closes the listening socket and every connection, from the server's own loop (its map of
        sockets is not safe to change from another thread); requests still running finish on their own.
        The loop's trigger is only taken out of the map there, and closed once the request threads, which
        pull it when they have written a response, are done or given up on."""
        server = self._server
        trigger = server.trigger

        def close_connections() -> None:
            trigger.del_channel()
            for dispatcher in list(server._map.values()):
                # The listener as a plain dispatcher: the server's own close() closes the trigger too.
                (wasyncore.dispatcher.close if dispatcher is server else type(dispatcher).close)(dispatcher)
            server._map.clear()

        if self._thread.is_alive():
            trigger.pull_trigger(close_connections)
            self._thread.join(timeout=5)
        else:
            close_connections()
        server.task_dispatcher.shutdown(timeout=1)
        trigger.close()  # its pipe, once no request thread is left to write to it
