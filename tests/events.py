"""Builders for the events API Gateway sends, based on the sample in events/, and a LambdaContext stand-in.

`rest_event` makes a REST (v1) proxy event as API Gateway delivers it to a function: headers and
multiValueHeaders agree, requestContext carries identity.sourceIp, requestId, stage and, for routes
behind the authorizer, the authorizer context. `authorizer_event` makes the REQUEST authorizer's input.
"""

from __future__ import annotations

import copy
import functools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.support import ROOT

SAMPLE = ROOT / "events" / "apigateway-aws-proxy.json"
STAGE = "local"
API_ID = "tsapi12345"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


@functools.cache
def _sample() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SAMPLE.read_text())
    return loaded


def rest_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    source_ip: str = "198.51.100.7",
    request_id: str | None = None,
    authorizer: dict[str, str] | None = None,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST v1 proxy event; `body` is JSON-encoded (with Content-Type), `raw_body` is sent as is."""
    event = copy.deepcopy(_sample())
    all_headers = {
        "Host": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
        "User-Agent": "tradestream-tests",
        # A client-controlled header API Gateway passes through: code must never trust it for identity.
        "X-Forwarded-For": "127.0.0.1, 10.9.8.7",
        "X-Forwarded-Proto": "https",
    }
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    context = event["requestContext"]
    context.update(
        {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "stage": STAGE,
            "requestId": request_id or str(uuid.uuid4()),
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "resourcePath": resource or path,
        }
    )
    context["identity"]["sourceIp"] = source_ip
    context["identity"]["userAgent"] = all_headers["User-Agent"]
    if authorizer is not None:
        context["authorizer"] = {**authorizer, "principalId": authorizer.get("userId", "")}
    event.update(
        {
            "resource": resource or path,
            "path": path,
            "httpMethod": method,
            "headers": all_headers,
            "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": path_parameters,
            "stageVariables": None,
            "body": raw_body if raw_body is not None else (None if body is None else json.dumps(body)),
            "isBase64Encoded": False,
        }
    )
    return event


def method_arn(method: str, path: str) -> str:
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/{method}/{path.lstrip('/')}"


def authorizer_event(
    method: str = "GET", path: str = "/api/me", *, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The input of a REQUEST authorizer: the proxy event's request parts plus `type` and `methodArn`."""
    proxy = rest_event(method, path, headers=headers)
    keys = ["resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters"]
    keys += ["multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext"]
    return {"type": "REQUEST", "methodArn": method_arn(method, path), **{key: proxy[key] for key in keys}}


@dataclass
class LambdaContextStub:
    """What powertools' Logger reads from the Lambda context."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass(frozen=True)
class Reply:
    """A Lambda proxy response, with headers merged case-insensitively (names lower-cased)."""

    status: int
    headers: dict[str, str]
    body: str

    @classmethod
    def of(cls, result: dict[str, Any]) -> Reply:
        headers = {name.lower(): str(value) for name, value in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = ",".join(str(value) for value in values)
        assert result.get("isBase64Encoded") in (False, None), "identity responses are never binary"
        return cls(status=int(result["statusCode"]), headers=headers, body=str(result.get("body") or ""))

    def json(self) -> Any:
        return json.loads(self.body)
