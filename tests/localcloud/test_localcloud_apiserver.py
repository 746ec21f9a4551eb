"""The API's HTTP server: keep-alive connections, header lines as sent, a stop that frees the port."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from localcloud.apiserver import RAW_HEADERS, ApiServer
from localcloud.cloud import free_port, wait_for_port

HOST = "127.0.0.1"


def echo_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answers with what the API edge reads from the environ."""
    if environ["PATH_INFO"] == "/slow":
        time.sleep(float(environ["QUERY_STRING"] or "0"))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.dumps(
        {
            "raw": environ[RAW_HEADERS],
            "peer": environ["REMOTE_PORT"],
            "body": environ["wsgi.input"].read(length).decode(),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def server() -> Iterator[tuple[ApiServer, int]]:
    port = free_port()
    api = ApiServer(echo_app, HOST, port)
    api.start()
    wait_for_port(HOST, port, 10)
    try:
        yield api, port
    finally:
        api.stop()


def _get(connection: http.client.HTTPConnection, path: str, headers: list[tuple[str, str]]) -> Any:
    connection.putrequest("GET", path)
    for name, value in headers:
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    return response, json.loads(response.read())


def test_requests_share_one_connection_as_api_gateway_keeps_it_open(server: tuple[ApiServer, int]) -> None:
    _, port = server
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        peers = []
        for _ in range(3):
            response, body = _get(connection, "/", [])
            assert response.status == 200
            assert (response.getheader("Connection") or "").lower() != "close"
            peers.append(body["peer"])
        assert len(set(peers)) == 1, "each request came on a new connection"
        connection.request("POST", "/", body=b'{"a": 1}', headers={"Content-Type": "application/json"})
        body = json.loads(connection.getresponse().read())
        assert (body["peer"], body["body"]) == (peers[0], '{"a": 1}')  # a body read, the connection kept
    finally:
        connection.close()


def test_header_lines_arrive_as_sent_repeated_names_and_case_kept(server: tuple[ApiServer, int]) -> None:
    _, port = server
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        sent = [("X-Multi", "a"), ("x-lower-case", "kept"), ("X-Multi", " b \t"), ("X_Under", "kept")]
        _, first = _get(connection, "/", sent)
        _, second = _get(connection, "/", [("X-Other", "c")])  # the next request's lines, not the first's
    finally:
        connection.close()
    lines = [tuple(line) for line in first["raw"] if line[0] not in ("Host", "Accept-Encoding")]
    # a name with an underscore too, which waitress leaves out of the environ: API Gateway passes it on
    assert lines == [("X-Multi", "a"), ("x-lower-case", "kept"), ("X-Multi", "b"), ("X_Under", "kept")]
    assert [tuple(line) for line in second["raw"] if line[0] == "X-Other"] == [("X-Other", "c")]
    assert not [line for line in second["raw"] if line[0] == "X-Multi"]


def test_a_host_name_is_served_on_one_address_with_its_header_lines() -> None:
    port = free_port()
    api = ApiServer(echo_app, "localhost", port)  # resolves to ::1 and 127.0.0.1 here
    api.start()
    try:
        wait_for_port(HOST, port, 10)
        connection = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            _, body = _get(connection, "/", [("X-Multi", "a"), ("X-Multi", "b")])
        finally:
            connection.close()
        assert [tuple(line) for line in body["raw"] if line[0] == "X-Multi"] == [
            ("X-Multi", "a"),
            ("X-Multi", "b"),
        ]
    finally:
        api.stop()


def test_stop_closes_idle_connections_and_frees_the_port() -> None:
    port = free_port()
    api = ApiServer(echo_app, HOST, port)
    api.start()
    wait_for_port(HOST, port, 10)
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    _get(connection, "/", [])  # an idle keep-alive connection, open as the server stops
    started = time.monotonic()
    api.stop()
    assert time.monotonic() - started < 3
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        _get(connection, "/", [])
    connection.close()
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((HOST, port))  # free again: the next local cloud can serve on it


def test_a_request_in_flight_as_the_server_stops_does_not_hold_the_stop() -> None:
    port = free_port()
    api = ApiServer(echo_app, HOST, port)
    api.start()
    wait_for_port(HOST, port, 10)
    outcome: list[Any] = []

    def slow() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            outcome.append(_get(connection, "/slow?4", [])[0].status)
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            outcome.append(exc)
        finally:
            connection.close()

    client = threading.Thread(target=slow)
    client.start()
    time.sleep(0.5)  # the request is in the application now
    started = time.monotonic()
    api.stop()
    assert time.monotonic() - started < 3
    client.join(timeout=10)
    assert outcome, "the client never returned"
