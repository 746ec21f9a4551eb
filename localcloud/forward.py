"""Port 4566 answering for a service that another moto process serves: its requests relayed as they came.

moto serves every service from one Python process, so all AWS calls of the local cloud share one GIL
(docs/benchmarks.md: two thirds of moto's busy samples were threads waiting for it). The local cloud may
run DynamoDB in a second moto process; the functions then call it directly (AWS_ENDPOINT_URL_DYNAMODB),
and the moto on 4566 relays the DynamoDB calls of everyone else (scripts, the audit, `aws` on the
command line) so that 4566 still answers for every service (../shared/ARCHITECTURE.md, "Emulator costs").

Written here because moto has no such mode and a general reverse proxy would be one more server to
install and start; this is a small WSGI wrapper around urllib3, which botocore already depends on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import urllib3

# The service a request is for, as SigV4 names it in the credential scope: AKID/date/region/service/...
_SCOPE = re.compile(r"Credential=[^/,]+/[^/,]+/[^/,]+/(?P<service>[^/,]+)/aws4_request")
# DynamoDB and DynamoDB Streams both sign as "dynamodb"; an unsigned call still names its API here.
_TARGETS = {"DynamoDB_": "dynamodb", "DynamoDBStreams_": "dynamodb"}
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

StartResponse = Callable[..., Any]
Application = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def service_of(environ: Mapping[str, Any]) -> str | None:
    """The AWS service a request is for, from its signature's scope or its X-Amz-Target."""
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group("service")
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return next((service for prefix, service in _TARGETS.items() if target.startswith(prefix)), None)


class Relay:
    """Requests relayed to one moto over kept-alive connections, as they came."""

    def __init__(self, url: str, *, connections: int) -> None:
        self.url = url
        self.pool = urllib3.connection_from_url(
            url,
            maxsize=connections,  # one kept-alive connection per request thread
            retries=False,  # the caller's SDK retries; a relay that retried too would double them
            timeout=urllib3.Timeout(connect=5, read=60),  # a ReceiveMessage long poll is 20 s at most
        )

    def send(self, environ: Mapping[str, Any], body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
        """(status line, headers, body) of the answer to the request `environ` with this body."""
        # The Host header goes along unchanged: moto picks a backend by host, as it did on 4566.
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        headers["Content-Length"] = str(len(body))
        path = quote(environ.get("PATH_INFO") or "/")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        try:
            response = self.pool.urlopen(
                environ["REQUEST_METHOD"],
                path,
                body=body,
                headers=headers,
                redirect=False,
                assert_same_host=False,
                decode_content=False,  # the bytes as they came, with their Content-Encoding header
            )
        except urllib3.exceptions.HTTPError as exc:
            # 503 is what botocore retries, as it would an overloaded AWS endpoint.
            problem = {"__type": "ServiceUnavailable", "message": f"the moto serving this service: {exc}"}
            return (
                "503 Service Unavailable",
                [("Content-Type", "application/x-amz-json-1.0")],
                json.dumps(problem).encode(),
            )
        return (
            f"{response.status} {response.reason or ''}".rstrip(),
            [(key, value) for key, value in response.headers.items() if key.lower() not in _HOP_BY_HOP],
            response.data,
        )


def request_body(environ: Mapping[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


class Forwarder:
    """A WSGI application: requests for a service in `routes` go to its URL, the others to `app`."""

    def __init__(self, app: Application, routes: Mapping[str, str], *, connections: int) -> None:
        self.app = app
        self.relays = {service: Relay(url, connections=connections) for service, url in routes.items()}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        relay = self.relays.get(service_of(environ) or "")
        if relay is None:
            return self.app(environ, start_response)
        status, headers, data = relay.send(environ, request_body(environ))
        start_response(status, headers)
        return [data]
