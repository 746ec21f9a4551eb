"""Reads what to run from the translated template: functions, API routes, authorizers, event sources."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.errors import TemplateError
from localcloud.resources import LocalResources

_INVOCATION_URI = re.compile(r"functions/(arn:aws:lambda:[^/]+)/invocations")


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    handler: str
    runtime: str
    timeout: int
    memory_mb: int
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    function: str  # logical id
    identity_headers: tuple[str, ...]
    identity_query: tuple[str, ...]
    ttl_seconds: int


@dataclass(frozen=True)
class Route:
    method: str  # upper case; "ANY" matches every method
    path: str  # API Gateway resource path, e.g. /api/orders/{id}
    function: str | None  # logical id; None for a mock (CORS) integration
    authorizer: str | None
    mock_headers: dict[str, str] = field(default_factory=dict)

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = ""
        for part in self.path.strip("/").split("/"):
            if part.startswith("{") and part.endswith("+}"):
                regex += "/(?P<" + part[1:-2] + ">.+)"
            elif part.startswith("{") and part.endswith("}"):
                regex += "/(?P<" + part[1:-1] + ">[^/]+)"
            elif part:
                regex += "/" + re.escape(part)
        return re.compile("^" + (regex or "/") + "/?$")


@dataclass(frozen=True)
class GatewayResponse:
    status: int | None
    body: str | None
    headers: dict[str, str]


@dataclass(frozen=True)
class RestApi:
    logical_id: str
    stage: str
    routes: tuple[Route, ...]
    authorizers: dict[str, AuthorizerSpec]
    gateway_responses: dict[str, GatewayResponse]
    binary_media_types: tuple[str, ...]


@dataclass(frozen=True)
class EventSource:
    logical_id: str
    kind: str  # "sqs" or "kinesis"
    function: str  # logical id
    source: str  # logical id of the queue or stream
    batch_size: int
    batching_window_seconds: float
    report_item_failures: bool
    starting_position: str
    maximum_retry_attempts: int  # -1 = until the record expires
    bisect_on_error: bool
    on_failure: str | None  # logical id of the destination queue
    enabled: bool


@dataclass(frozen=True)
class Schedule:
    logical_id: str
    function: str  # logical id
    rule_arn: str
    interval_seconds: float
    enabled: bool


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def _schedules(res: LocalResources, functions: dict[str, FunctionSpec]) -> list[Schedule]:
    by_arn = {spec.arn: lid for lid, spec in functions.items()}
    schedules = []
    for logical_id in res.template.of_type("AWS::Events::Rule"):
        props = res.properties(logical_id)
        expression = str(props.get("ScheduleExpression", ""))
        if not expression:
            continue  # an event-pattern rule: nothing local emits those events
        match = _RATE.match(expression)
        if match is None:
            raise TemplateError(f"{logical_id}: only rate(...) schedules are run locally, not {expression}")
        interval = int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]
        for target in props.get("Targets", []):
            function = by_arn.get(str(target.get("Arn")))
            if function is not None:
                schedules.append(
                    Schedule(
                        logical_id=logical_id,
                        function=function,
                        rule_arn=f"arn:aws:events:us-east-1:123456789012:rule/{res.names[logical_id]}",
                        interval_seconds=float(interval),
                        enabled=props.get("State", "ENABLED") == "ENABLED",
                    )
                )
    return schedules


@dataclass(frozen=True)
class Wiring:
    functions: dict[str, FunctionSpec]
    apis: tuple[RestApi, ...]
    event_sources: tuple[EventSource, ...]
    schedules: tuple[Schedule, ...] = ()

    def function_by_name(self, name: str) -> FunctionSpec:
        for spec in self.functions.values():
            if name in (spec.logical_id, spec.name):
                return spec
        raise TemplateError(
            f"no function {name!r} in the template; known: {', '.join(sorted(self.functions))}"
        )


def _functions(res: LocalResources) -> dict[str, FunctionSpec]:
    code_dirs = res.template.code_dirs
    layer_keys = {
        lid: r["Properties"]["Content"]["S3Key"]
        for lid, r in res.template.of_type("AWS::Lambda::LayerVersion").items()
    }
    specs: dict[str, FunctionSpec] = {}
    for logical_id in res.template.of_type("AWS::Lambda::Function"):
        props = res.properties(logical_id)
        code_key = props.get("Code", {}).get("S3Key", "")
        if code_key not in code_dirs:
            raise TemplateError(f"{logical_id}: code is not a local folder")
        layer_dirs = []
        for layer in res.template.resources[logical_id]["Properties"].get("Layers", []):
            layer_id = layer.get("Ref") if isinstance(layer, dict) else None
            if layer_id not in layer_keys:
                raise TemplateError(f"{logical_id}: layer {layer} is not a local layer")
            layer_dirs.append(res.template.layer_import_roots[layer_keys[layer_id]])
        env = {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=res.names[logical_id],
            arn=str(res.attribute(logical_id, "Arn")),
            handler=str(props["Handler"]),
            runtime=str(props.get("Runtime", "python3.11")),
            timeout=int(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            code_dir=code_dirs[code_key],
            layer_dirs=tuple(layer_dirs),
            environment=env,
        )
    return specs


def _function_from_uri(uri: str, arns: dict[str, str]) -> str:
    match = _INVOCATION_URI.search(uri)
    if not match or match.group(1) not in arns:
        raise TemplateError(f"integration uri {uri} names no function of the template")
    return arns[match.group(1)]


def _authorizers(body: dict[str, Any], arns: dict[str, str]) -> dict[str, AuthorizerSpec]:
    result: dict[str, AuthorizerSpec] = {}
    for name, definition in body.get("securityDefinitions", {}).items():
        authorizer = definition.get("x-amazon-apigateway-authorizer")
        if not authorizer:
            continue
        if authorizer.get("type") != "request":
            raise TemplateError(f"authorizer {name}: only REQUEST authorizers are served locally")
        sources = [s.strip() for s in str(authorizer.get("identitySource", "")).split(",") if s.strip()]
        result[name] = AuthorizerSpec(
            name=name,
            function=_function_from_uri(authorizer["authorizerUri"], arns),
            identity_headers=tuple(
                s.split(".")[-1] for s in sources if s.startswith("method.request.header.")
            ),
            identity_query=tuple(
                s.split(".")[-1] for s in sources if s.startswith("method.request.querystring.")
            ),
            ttl_seconds=int(authorizer.get("authorizerResultTtlInSeconds", 300)),
        )
    return result


def _routes(
    body: dict[str, Any], arns: dict[str, str], authorizers: dict[str, AuthorizerSpec]
) -> list[Route]:
    default_security = body.get("security", [])
    routes: list[Route] = []
    for path, methods in body.get("paths", {}).items():
        for method, operation in methods.items():
            integration = operation.get("x-amazon-apigateway-integration", {})
            security = operation.get("security", default_security)
            names = [n for item in security for n in item if n in authorizers]
            authorizer = names[0] if names else None
            http_method = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            if integration.get("type") == "aws_proxy":
                function = _function_from_uri(str(integration["uri"]), arns)
                routes.append(Route(http_method, path, function, authorizer))
            elif integration.get("type") == "mock":
                params = integration.get("responses", {}).get("default", {}).get("responseParameters", {})
                headers = {
                    k.removeprefix("method.response.header."): str(v).strip("'")
                    for k, v in params.items()
                    if k.startswith("method.response.header.")
                }
                routes.append(Route(http_method, path, None, authorizer, headers))
            else:
                raise TemplateError(
                    f"{method.upper()} {path}: integration {integration.get('type')} not served"
                )
    return routes


def _gateway_responses(body: dict[str, Any]) -> dict[str, GatewayResponse]:
    result = {}
    for kind, spec in body.get("x-amazon-apigateway-gateway-responses", {}).items():
        templates = spec.get("responseTemplates", {})
        headers = {
            k.removeprefix("gatewayresponse.header."): str(v)
            for k, v in spec.get("responseParameters", {}).items()
            if k.startswith("gatewayresponse.header.")
        }
        status = spec.get("statusCode")
        result[kind] = GatewayResponse(
            status=int(status) if status else None,
            body=templates.get("application/json"),
            headers=headers,
        )
    return result


def _apis(res: LocalResources) -> list[RestApi]:
    arns = res.by_arn()
    stages = {
        str(r["Properties"]["RestApiId"].get("Ref")): str(
            res.resolver.resolve(r["Properties"].get("StageName", ""))
        )
        for r in res.template.of_type("AWS::ApiGateway::Stage").values()
    }
    apis = []
    for logical_id in res.template.of_type("AWS::ApiGateway::RestApi"):
        body = res.properties(logical_id).get("Body")
        if not isinstance(body, dict):
            raise TemplateError(f"{logical_id}: only inline (SAM-generated) API definitions are served")
        authorizers = _authorizers(body, arns)
        apis.append(
            RestApi(
                logical_id=logical_id,
                stage=stages.get(logical_id, "Prod"),
                routes=tuple(_routes(body, arns, authorizers)),
                authorizers=authorizers,
                gateway_responses=_gateway_responses(body),
                binary_media_types=tuple(
                    t.replace("~1", "/") for t in body.get("x-amazon-apigateway-binary-media-types", [])
                ),
            )
        )
    return apis


def _event_sources(res: LocalResources, functions: dict[str, FunctionSpec]) -> list[EventSource]:
    arns = res.by_arn()
    by_name = {spec.name: lid for lid, spec in functions.items()}
    sources = []
    for logical_id in res.template.of_type("AWS::Lambda::EventSourceMapping"):
        props = res.properties(logical_id)
        source = arns.get(str(props["EventSourceArn"]))
        if source is None:
            raise TemplateError(
                f"{logical_id}: event source {props['EventSourceArn']} is not in the template"
            )
        source_type = res.template.resources[source]["Type"]
        kind = {"AWS::SQS::Queue": "sqs", "AWS::Kinesis::Stream": "kinesis"}.get(source_type)
        if kind is None:
            raise TemplateError(f"{logical_id}: {source_type} event sources are not served locally")
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        sources.append(
            EventSource(
                logical_id=logical_id,
                kind=kind,
                function=by_name[str(props["FunctionName"])],
                source=source,
                batch_size=int(props.get("BatchSize", 10 if kind == "sqs" else 100)),
                batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                report_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                starting_position=str(props.get("StartingPosition", "LATEST")),
                maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                on_failure=arns.get(str(destination)) if destination else None,
                enabled=bool(props.get("Enabled", True)),
            )
        )
    return sources


def wire(res: LocalResources) -> Wiring:
    functions = _functions(res)
    return Wiring(
        functions=functions,
        apis=tuple(_apis(res)),
        event_sources=tuple(_event_sources(res, functions)),
        schedules=tuple(_schedules(res, functions)),
    )
