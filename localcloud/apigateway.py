"""API Gateway REST (v1) in front of the functions: proxy events, REQUEST authorizers (cached), CORS."""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from waitress.task import hop_by_hop
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from localcloud.apiserver import RAW_HEADERS
from localcloud.errors import InvocationError
from localcloud.functions import FunctionPool
from localcloud.intrinsics import ACCOUNT_ID, REGION
from localcloud.wiring import AuthorizerSpec, RestApi, Route

log = logging.getLogger("localcloud")

# API Gateway's own messages for the responses it produces itself.
_DEFAULT_MESSAGES = {
    "UNAUTHORIZED": (401, "Unauthorized"),
    "ACCESS_DENIED": (403, "User is not authorized to access this resource"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "AUTHORIZER_FAILURE": (500, "Internal server error"),
    "BAD_GATEWAY": (502, "Internal server error"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
}
_FALLBACK = {4: "DEFAULT_4XX", 5: "DEFAULT_5XX"}
_EXPLICIT_DENY = "User is not authorized to access this resource with an explicit deny"
# API Gateway gives up on an integration after 29 s; a Lambda timeout below that is a function error.
_INTEGRATION_TIMEOUT_SECONDS = 29


def _remapped(name: str) -> str:
    """Headers of a connection, not of a response, which the HTTP server refuses from an application:
    API Gateway does not let an integration set them on the client's connection, and passes them on
    renamed."""
    return f"x-amzn-Remapped-{name}" if name.lower() in hop_by_hop else name


def _context_value(value: Any) -> str:
    """REST APIs hand the authorizer context to the integration with every value as a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class _Policy:
    principal_id: str
    statements: list[dict[str, Any]]
    context: dict[str, Any]
    expires_at: float

    def effect_for(self, method_arn: str) -> str | None:
        effect: str | None = None
        for statement in self.statements:
            resources = statement.get("Resource", [])
            resources = [resources] if isinstance(resources, str) else resources
            if any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
                if statement.get("Effect") == "Deny":
                    return "Deny"
                effect = statement.get("Effect")
        return effect


class _Denied(Exception):
    def __init__(self, kind: str, message: str | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.message = message


class ApiGateway:
    """A WSGI app serving one REST API of the template at the root path (as `sam local start-api`)."""

    def __init__(
        self, api: RestApi, pools: dict[str, FunctionPool], admin: Callable[[Request], Response | None]
    ):
        self.api = api
        self.pools = pools
        self.admin = admin
        self._routes = [(route, route.pattern) for route in api.routes]
        self._cache: dict[tuple[str, ...], _Policy] = {}
        self._cache_lock = threading.Lock()
        self.authorizer_invocations = 0

    # --- WSGI ---------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.admin(request) or self.handle(request)
        except Exception:
            log.exception("API gateway failure")
            response = Response(
                json.dumps({"message": "Internal server error"}), 500, mimetype="application/json"
            )
        return response(environ, start_response)

    # --- routing ------------------------------------------------------------------------------------
    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path parameters, whether the path exists under another method)."""
        path_known = False
        best: tuple[Route, dict[str, str]] | None = None
        for route, pattern in self._routes:
            found = pattern.match(path)
            if not found:
                continue
            path_known = True
            if route.method in (method, "ANY"):
                params = found.groupdict()
                # API Gateway prefers the most specific resource: fewer variables and no greedy ones.
                rank = (route.path.count("{"), "+}" in route.path, route.method == "ANY")
                if best is None or rank < (
                    best[0].path.count("{"),
                    "+}" in best[0].path,
                    best[0].method == "ANY",
                ):
                    best = (route, params)
        if best is None:
            return None, {}, path_known
        return best[0], best[1], True

    def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        route, params, _ = self._match(request.method, request.path)
        if route is None:
            return self._gateway_response("MISSING_AUTHENTICATION_TOKEN", request, request_id)
        event = self._proxy_event(request, route, params, request_id)
        if route.authorizer:  # SAM also puts the default authorizer on CORS preflights unless told not to
            try:
                event["requestContext"]["authorizer"] = self._authorize(route, event)
            except _Denied as denied:
                return self._gateway_response(denied.kind, request, request_id, denied.message)
        if route.function is None:  # the CORS preflight mock integration SAM generates
            return Response(b"{}", 200, headers=list(route.mock_headers.items()), mimetype="application/json")
        pool = self.pools[route.function]
        try:
            # The function gets its own request id, as on AWS; requestContext.requestId is the gateway's.
            result = pool.invoke(event)
        except InvocationError as exc:
            log.error("%s %s: %s", request.method, request.path, exc)
            timed_out = (
                exc.error_type == "Sandbox.Timedout" and pool.spec.timeout > _INTEGRATION_TIMEOUT_SECONDS
            )
            return self._gateway_response(
                "INTEGRATION_TIMEOUT" if timed_out else "BAD_GATEWAY", request, request_id
            )
        return self._proxy_response(result, request, request_id)

    # --- events -------------------------------------------------------------------------------------
    def _proxy_event(
        self, request: Request, route: Route, params: dict[str, str], request_id: str
    ) -> dict[str, Any]:
        multi_headers: dict[str, list[str]] = {}
        for key, value in request.environ.get(RAW_HEADERS) or request.headers.items():
            multi_headers.setdefault(key, []).append(value)
        multi_query = {k: request.args.getlist(k) for k in request.args}
        raw = request.get_data()
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        binary = any(fnmatch.fnmatchcase(content_type, t) for t in self.api.binary_media_types)
        body: str | None
        if not raw:
            body = None
        elif binary:
            body = base64.b64encode(raw).decode()
        else:
            body = raw.decode("utf-8", errors="replace")
        now = time.time()
        source_ip = request.remote_addr or "127.0.0.1"
        return {
            "resource": route.path,
            "path": request.path,
            "httpMethod": request.method,
            "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": "local",
                "domainName": request.host,
                "domainPrefix": request.host.split(".")[0],
                "extendedRequestId": request_id,
                "httpMethod": request.method,
                "identity": {
                    "accessKey": None,
                    "accountId": None,
                    "caller": None,
                    "cognitoAuthenticationProvider": None,
                    "cognitoAuthenticationType": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "principalOrgId": None,
                    "sourceIp": source_ip,
                    "user": None,
                    "userAgent": request.headers.get("User-Agent"),
                    "userArn": None,
                },
                "path": f"/{self.api.stage}{request.path}",
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "requestId": request_id,
                "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now * 1000),
                "resourceId": "local",
                "resourcePath": route.path,
                "stage": self.api.stage,
            },
            "body": body,
            "isBase64Encoded": binary and body is not None,
        }

    def _method_arn(self, event: dict[str, Any]) -> str:
        path = event["path"].lstrip("/")
        return (
            f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:local/{self.api.stage}/{event['httpMethod']}/{path}"
        )

    # --- authorizer ---------------------------------------------------------------------------------
    def _identity(self, spec: AuthorizerSpec, event: dict[str, Any]) -> tuple[str, ...] | None:
        headers = {k.lower(): v for k, v in (event["headers"] or {}).items()}
        query = event["queryStringParameters"] or {}
        values = [headers.get(h.lower()) for h in spec.identity_headers] + [
            query.get(q) for q in spec.identity_query
        ]
        if any(not v for v in values):
            return None
        return (spec.name, *[str(v) for v in values])

    def _authorize(self, route: Route, event: dict[str, Any]) -> dict[str, Any]:
        spec = self.api.authorizers[route.authorizer or ""]
        identity = self._identity(spec, event)
        if identity is None:
            raise _Denied("UNAUTHORIZED")  # API Gateway answers without invoking the authorizer
        method_arn = self._method_arn(event)
        with self._cache_lock:
            policy = self._cache.get(identity)
            if policy is not None and policy.expires_at < time.monotonic():
                policy = None
        if policy is None:
            policy = self._invoke_authorizer(spec, event, method_arn)
            if spec.ttl_seconds > 0:
                with self._cache_lock:
                    self._cache[identity] = policy
        effect = policy.effect_for(method_arn)
        if effect == "Deny":
            raise _Denied("ACCESS_DENIED", _EXPLICIT_DENY)
        if effect != "Allow":
            raise _Denied("ACCESS_DENIED")
        return {**policy.context, "principalId": policy.principal_id, "integrationLatency": 0}

    def _invoke_authorizer(self, spec: AuthorizerSpec, event: dict[str, Any], method_arn: str) -> _Policy:
        auth_event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **{
                k: event[k]
                for k in (
                    "resource",
                    "path",
                    "httpMethod",
                    "headers",
                    "multiValueHeaders",
                    "queryStringParameters",
                    "multiValueQueryStringParameters",
                    "pathParameters",
                    "stageVariables",
                    "requestContext",
                )
            },
        }
        self.authorizer_invocations += 1
        try:
            result = self.pools[spec.function].invoke(auth_event)
        except InvocationError as exc:
            if exc.message == "Unauthorized":  # the documented way for an authorizer to answer 401
                raise _Denied("UNAUTHORIZED") from exc
            log.error("authorizer %s failed: %s", spec.name, exc)
            raise _Denied("AUTHORIZER_FAILURE") from exc
        try:
            statements = result["policyDocument"]["Statement"]
            context = {k: v for k, v in (result.get("context") or {}).items() if v is not None}
            if any(isinstance(v, dict | list) for v in context.values()):
                raise ValueError("authorizer context values must be strings, numbers or booleans")
            context = {k: _context_value(v) for k, v in context.items()}
            return _Policy(
                principal_id=str(result["principalId"]),
                statements=statements if isinstance(statements, list) else [statements],
                context=context,
                expires_at=time.monotonic() + spec.ttl_seconds,
            )
        except (KeyError, TypeError, ValueError) as exc:
            log.error("authorizer %s returned an invalid policy: %s", spec.name, exc)
            raise _Denied("AUTHORIZER_FAILURE") from exc

    # --- responses ----------------------------------------------------------------------------------
    def _proxy_response(self, result: Any, request: Request, request_id: str) -> Response:
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            log.error("%s %s: malformed Lambda proxy response %r", request.method, request.path, result)
            return self._gateway_response("BAD_GATEWAY", request, request_id)
        headers = Headers()
        for key, value in (result.get("headers") or {}).items():
            headers[_remapped(key)] = str(value)
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers.setlist(_remapped(key), [str(v) for v in values])
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        headers.setdefault("x-amzn-RequestId", request_id)
        headers.setdefault("Content-Type", "application/json")  # API Gateway's default for proxy responses
        return Response(data, result["statusCode"], headers=headers)

    def _gateway_response(
        self, kind: str, request: Request, request_id: str, message: str | None = None
    ) -> Response:
        status, default_message = _DEFAULT_MESSAGES.get(kind, (500, "Internal server error"))
        message = message or default_message
        custom = self.api.gateway_responses.get(kind) or self.api.gateway_responses.get(
            _FALLBACK[status // 100]
        )
        body = json.dumps({"message": message})
        headers = Headers({"x-amzn-RequestId": request_id, "x-amzn-ErrorType": kind})
        if custom is not None:
            status = custom.status or status
            if custom.body is not None:
                body = self._render(custom.body, request, request_id, message, kind)
            for name, source in custom.headers.items():
                value = self._parameter(source, request, request_id)
                if value is not None:
                    headers[name] = value
        # the type of the response template, unless a header of the gateway response maps another one
        headers.setdefault("Content-Type", "application/json")
        return Response(body, status, headers=headers)

    @staticmethod
    def _parameter(source: str, request: Request, request_id: str) -> str | None:
        if source.startswith("'") and source.endswith("'"):
            return source[1:-1]
        if source.startswith("method.request.header."):
            return request.headers.get(source.removeprefix("method.request.header."))
        if source == "context.requestId":
            return request_id
        return None

    @staticmethod
    def _render(template: str, request: Request, request_id: str, message: str, kind: str) -> str:
        """The few $context variables gateway response templates commonly use."""
        return (
            template.replace("$context.error.responseType", kind)
            .replace("$context.error.messageString", json.dumps(message))
            .replace("$context.error.message", message)
            .replace("$context.requestId", request_id)
            .replace("$context.path", request.path)
        )
