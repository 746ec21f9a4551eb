"""API Gateway REST (v1) proxy events, the REQUEST authorizer, CORS, and the function runtime behind them."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from localcloud import template as template_loader
from localcloud.apigateway import ApiGateway
from localcloud.cloud import LocalCloud
from localcloud.errors import InvocationError
from localcloud.resources import LocalResources
from localcloud.wiring import wire
from tests.localcloud.support import FIXTURES, REPO, STACK, aws, cli, request, running_cloud

TEMPLATE = FIXTURES / "api" / "template.yaml"
ACCOUNT = "123456789012"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LEAKED = "LOCALCLOUD_TEST_HOST_ONLY"


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    os.environ[LEAKED] = "the host's environment is not the function's"
    try:
        with running_cloud(TEMPLATE) as running:
            yield running
    finally:
        del os.environ[LEAKED]


def token() -> str:
    return uuid.uuid4().hex[:12]


def authorizer_calls(cloud: LocalCloud, value: str) -> int:
    item = aws(cloud, "dynamodb").get_item(TableName=f"{STACK}-authorizer-calls", Key={"token": {"S": value}})
    return int(item.get("Item", {}).get("calls", {}).get("N", "0"))


def echo(cloud: LocalCloud, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = request(cloud, method, path, **kwargs)
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    return body


# --- proxy events ----------------------------------------------------------------------------------
def test_proxy_event_carries_path_parameters_multi_value_headers_and_query_strings(cloud: LocalCloud) -> None:
    response = request(
        cloud,
        "GET",
        "/items/item-42?tag=red&tag=blue&single=1",
        headers=[
            ("X-Token", f"allow-{token()}"),
            ("X-Multi", "a"),
            ("X-Multi", "b"),
            ("x-lower-case", "kept"),
        ],
    )
    assert response.status == 200, response.body
    event = response.json()["event"]
    assert event["resource"] == "/items/{itemId}"
    assert event["path"] == "/items/item-42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"itemId": "item-42"}
    assert event["queryStringParameters"] == {"tag": "blue", "single": "1"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["red", "blue"], "single": ["1"]}
    assert event["multiValueHeaders"]["X-Multi"] == ["a", "b"]
    assert event["headers"]["X-Multi"] == "b"
    assert event["headers"]["x-lower-case"] == "kept"  # header names arrive as the client sent them
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    assert event["stageVariables"] is None
    context = event["requestContext"]
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert UUID.match(context["requestId"])
    assert response.header("x-amzn-RequestId") == context["requestId"]
    assert context["stage"] == "local"  # !Ref Stage, resolved
    assert context["path"] == "/local/items/item-42"
    assert context["resourcePath"] == "/items/{itemId}"
    assert context["httpMethod"] == "GET"
    assert context["accountId"] == ACCOUNT


def test_each_request_gets_its_own_request_id(cloud: LocalCloud) -> None:
    ids = {echo(cloud, "GET", "/public/x")["event"]["requestContext"]["requestId"] for _ in range(3)}
    assert len(ids) == 3


def test_binary_media_type_body_arrives_base64_encoded(cloud: LocalCloud) -> None:
    payload = bytes([0, 255, 16, 128]) + b"binary"
    event = echo(
        cloud, "POST", "/public/upload", headers=[("Content-Type", "application/octet-stream")], body=payload
    )["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload
    assert event["pathParameters"] == {"proxy": "upload"}


def test_text_body_arrives_as_is(cloud: LocalCloud) -> None:
    event = echo(
        cloud,
        "POST",
        "/public/a/b",
        headers=[("Content-Type", "application/json")],
        body=b'{"price": "10.5"}',
    )["event"]
    assert event["isBase64Encoded"] is False
    assert event["body"] == '{"price": "10.5"}'
    assert event["pathParameters"] == {"proxy": "a/b"}
    assert event["resource"] == "/public/{proxy+}"


def test_proxy_response_headers_and_multi_value_headers_reach_the_client(cloud: LocalCloud) -> None:
    response = request(cloud, "GET", "/public/x")
    assert response.header("Content-Type") == "application/json"
    assert response.header_values("X-Echo") == ["first", "second"]


def test_a_hop_by_hop_header_of_the_function_reaches_the_client_renamed(cloud: LocalCloud) -> None:
    response = request(cloud, "GET", "/public/x?connection=upgrade")
    assert response.status == 200, response.body
    assert response.header("x-amzn-Remapped-Connection") == "upgrade"
    assert (response.header("Connection") or "").lower() != "upgrade"


def test_cors_preflight_is_answered_by_the_mock_integration(cloud: LocalCloud) -> None:
    response = request(
        cloud,
        "OPTIONS",
        "/items/anything",
        headers=[("Origin", "https://app.example"), ("Access-Control-Request-Method", "GET")],
    )
    assert response.status == 200
    assert response.header("Access-Control-Allow-Origin") == "*"
    assert response.header("Access-Control-Allow-Methods") == "GET,POST,OPTIONS"
    assert response.header("Access-Control-Allow-Headers") == "Content-Type,X-Token"
    assert response.header("Access-Control-Max-Age") == "600"
    assert authorizer_calls(cloud, "<none>") == 0


def test_unknown_path_gets_the_templates_gateway_response(cloud: LocalCloud) -> None:
    response = request(cloud, "GET", "/nowhere", headers=[("X-Request-Id", "client-chosen")])
    assert response.status == 404  # MISSING_AUTHENTICATION_TOKEN (403 by default) mapped to 404
    assert response.header("Content-Type") == "application/problem+json"  # a mapped header wins
    assert response.header("X-Request-Id") == "client-chosen"
    assert response.json() == {
        "title": "No such route",
        "message": "Missing Authentication Token",
        "requestId": response.header("x-amzn-RequestId"),
    }


def test_proxy_event_has_the_keys_of_the_sam_cli_event(cloud: LocalCloud) -> None:
    """events/apigateway-aws-proxy.json comes from `sam local generate-event apigateway aws-proxy`."""
    reference = json.loads((REPO / "events" / "apigateway-aws-proxy.json").read_text())
    event = echo(
        cloud,
        "POST",
        "/public/path/to/resource?foo=bar",
        body=b"{}",
        headers=[("Content-Type", "application/json")],
    )["event"]
    assert set(reference) <= set(event), set(reference) - set(event)
    assert set(reference["requestContext"]) <= set(event["requestContext"])
    assert set(reference["requestContext"]["identity"]) <= set(event["requestContext"]["identity"])
    for key in ("multiValueHeaders", "multiValueQueryStringParameters"):
        assert all(isinstance(v, list) for v in event[key].values())


# --- authorizer ------------------------------------------------------------------------------------
def test_authorizer_context_reaches_the_function_as_strings(cloud: LocalCloud) -> None:
    user = token()
    event = echo(cloud, "GET", "/items/1", headers=[("X-Token", f"allow-{user}")])["event"]
    authorizer = event["requestContext"]["authorizer"]
    # REST APIs hand the context to the integration with every value stringified.
    assert {k: v for k, v in authorizer.items() if k != "integrationLatency"} == {
        "principalId": user,
        "user": user,
        "tier": "3",
        "admin": "true",
        "ratio": "1.5",
    }


def test_authorizer_result_is_cached_per_identity_source_for_the_template_ttl(cloud: LocalCloud) -> None:
    first, second = f"allow-{token()}", f"allow-{token()}"
    echo(cloud, "GET", "/items/0", headers=[("X-Token", f"allow-{token()}")])  # both functions warm
    started = time.monotonic()
    for path in ("/items/1", "/items/2", "/items/3"):  # one cached policy serves every route
        echo(cloud, "GET", path, headers=[("X-Token", first)])
    echo(cloud, "GET", "/items/1", headers=[("X-Token", second)])
    assert time.monotonic() - started < 2, (
        "the requests must fit in the 2 s TTL for this test to mean anything"
    )
    assert authorizer_calls(cloud, first) == 1
    assert authorizer_calls(cloud, second) == 1
    time.sleep(2.2)  # ReauthorizeEvery: 2
    echo(cloud, "GET", "/items/1", headers=[("X-Token", first)])
    assert authorizer_calls(cloud, first) == 2


def test_explicit_deny_is_403_with_a_json_message(cloud: LocalCloud) -> None:
    value = f"deny-{token()}"
    for _ in range(2):
        response = request(cloud, "GET", "/items/1", headers=[("X-Token", value)])
        assert response.status == 403
        assert response.header("Content-Type") == "application/json"
        assert response.json() == {
            "message": "User is not authorized to access this resource with an explicit deny"
        }
    assert authorizer_calls(cloud, value) == 1  # denials are cached too


def test_policy_that_does_not_cover_the_method_is_403(cloud: LocalCloud) -> None:
    response = request(cloud, "GET", "/items/1", headers=[("X-Token", f"elsewhere-{token()}")])
    assert response.status == 403
    assert response.json() == {"message": "User is not authorized to access this resource"}


def test_unauthorized_exception_is_401_with_a_json_message(cloud: LocalCloud) -> None:
    value = f"nobody-{token()}"
    response = request(cloud, "GET", "/items/1", headers=[("X-Token", value)])
    assert response.status == 401
    assert response.header("Content-Type") == "application/json"
    assert response.json() == {"message": "Unauthorized"}
    assert authorizer_calls(cloud, value) == 1


def test_missing_identity_header_is_401_without_invoking_the_authorizer(cloud: LocalCloud) -> None:
    response = request(cloud, "GET", "/items/1")
    assert response.status == 401
    assert response.json() == {"message": "Unauthorized"}
    assert authorizer_calls(cloud, "<none>") == 0


def test_failing_authorizer_is_500(cloud: LocalCloud) -> None:
    response = request(cloud, "GET", "/items/1", headers=[("X-Token", f"boom-{token()}")])
    assert response.status == 500
    assert "message" in response.json()


def test_authorizer_on_the_preflight_is_honoured_when_the_template_asks_for_it(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    """SAM puts the default authorizer on CORS preflights unless told not to (AddDefaultAuthorizer...)."""
    text = TEMPLATE.read_text().replace("        AddDefaultAuthorizerToCorsPreflight: false\n", "")
    assert "AddDefaultAuthorizerToCorsPreflight" not in text
    copy = tmp_path / "api" / "template.yaml"
    copy.parent.mkdir()
    copy.write_text(text)
    wiring = wire(LocalResources(template_loader.load(copy), stack_name=STACK, endpoint=cloud.endpoint))
    preflights = [r for r in wiring.apis[0].routes if r.method == "OPTIONS" and r.path == "/items/{itemId}"]
    assert [r.authorizer for r in preflights] == ["HeaderAuthorizer"]
    gateway = Client(ApiGateway(wiring.apis[0], cloud.pools, lambda _request: None))
    assert gateway.options("/items/1").status_code == 401
    allowed = gateway.options("/items/1", headers={"X-Token": f"allow-{token()}"})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "*"


# --- the function runtime --------------------------------------------------------------------------
def test_lambda_context_fields(cloud: LocalCloud) -> None:
    body = echo(cloud, "GET", "/public/context")
    context, event = body["context"], body["event"]
    name = f"{STACK}-EchoFunction"
    assert context["function_name"] == name
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    assert context["memory_limit_in_mb"] == "384"  # a string, as the AWS runtime passes it
    assert context["log_group_name"] == f"/aws/lambda/{name}"
    assert UUID.match(context["aws_request_id"])
    assert context["aws_request_id"] != event["requestContext"]["requestId"]
    assert 4000 < context["remaining_ms"] <= 5000  # Timeout: 5


def test_each_function_sees_its_own_environment_with_intrinsics_resolved(cloud: LocalCloud) -> None:
    env = echo(cloud, "GET", "/public/env")["env"]
    queue = f"{STACK}-WorkQueue.fifo"
    assert env["QUEUE_URL"] == f"{cloud.endpoint}/{ACCOUNT}/{queue}"
    assert env["QUEUE_ARN"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue}"
    assert env["TABLE_NAME"] == f"{STACK}-ItemsTable"
    assert env["STREAM_ARN"] == f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{STACK}-EventsStream"
    assert env["SUMMARY"] == f"{STACK}-ItemsTable|{queue}|us-east-1|{STACK}|local"
    assert env["STAGE"] == "local"  # from Globals
    assert env["ECHO_ONLY"] == "echo"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == f"{STACK}-EchoFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "384"
    assert env["AWS_ENDPOINT_URL"] == cloud.endpoint
    assert LEAKED not in env  # the host's variables are not the function's
    # the resolved names are the provisioned resources
    assert aws(cloud, "sqs").get_queue_attributes(QueueUrl=env["QUEUE_URL"], AttributeNames=["FifoQueue"])[
        "Attributes"
    ] == {"FifoQueue": "true"}
    assert (
        aws(cloud, "dynamodb").describe_table(TableName=env["TABLE_NAME"])["Table"]["TableStatus"] == "ACTIVE"
    )
    stream = aws(cloud, "kinesis").describe_stream_summary(StreamARN=env["STREAM_ARN"])
    assert stream["StreamDescriptionSummary"]["StreamARN"] == env["STREAM_ARN"]
    # another function sees its own variables, not EchoFunction's
    other = set(request(cloud, "GET", "/counter").json()["environment"])
    assert {"STAGE", "AWS_LAMBDA_FUNCTION_NAME", "AWS_ENDPOINT_URL"} <= other
    assert not other & {"ECHO_ONLY", "QUEUE_URL", "TABLE_NAME", LEAKED}


def test_warm_state_is_reused_and_recycle_forces_a_cold_start(cloud: LocalCloud) -> None:
    cloud.recycle("CounterFunction")
    first = [request(cloud, "GET", "/counter").json() for _ in range(3)]
    assert [b["count"] for b in first] == [1, 2, 3]
    assert len({b["pid"] for b in first}) == 1
    response = request(cloud, "POST", "/_localcloud/functions/CounterFunction/recycle")
    assert response.status == 200
    assert response.json() == {"recycled": True}
    after = request(cloud, "GET", "/counter").json()
    assert after["count"] == 1
    assert after["pid"] != first[0]["pid"]
    # by physical name too, and through the CLI
    assert request(cloud, "GET", "/counter").json()["count"] == 2
    done = subprocess.run(
        cli("--api-port", str(cloud.settings.api_port), "recycle", f"{STACK}-CounterFunction"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert request(cloud, "GET", "/counter").json()["count"] == 1


def test_prewarm_starts_workers_up_to_the_pools_concurrency_and_invocations_find_them_warm(
    cloud: LocalCloud,
) -> None:
    cloud.recycle("CounterFunction")
    pool = cloud.pools["CounterFunction"]
    before = pool.cold_starts
    pool.prewarm(3)
    assert pool.cold_starts - before == 3
    pool.prewarm(2)  # three are warm already
    assert pool.cold_starts - before == 3
    assert request(cloud, "GET", "/counter").json()["count"] == 1  # a fresh worker, but no cold start
    assert pool.cold_starts - before == 3
    pool.prewarm(pool.concurrency + 5)
    assert pool.cold_starts - before == pool.concurrency


def test_recycling_an_unknown_function_is_404(cloud: LocalCloud) -> None:
    response = request(cloud, "POST", "/_localcloud/functions/NoSuchFunction/recycle")
    assert response.status == 404
    assert "NoSuchFunction" in response.json()["message"]


def test_timeout_from_the_template_is_an_invocation_error_and_the_cloud_keeps_serving(
    cloud: LocalCloud,
) -> None:
    assert request(cloud, "GET", "/sleep?seconds=0").status == 200  # warm: a cold start is not timed
    started = time.monotonic()
    response = request(cloud, "GET", "/sleep?seconds=3")
    elapsed = time.monotonic() - started
    assert response.status == 502  # a Lambda timeout under the 29 s integration timeout is a 502
    assert response.json() == {"message": "Internal server error"}
    assert 0.9 < elapsed < 2.9, elapsed  # Timeout: 1, not the 3 s the handler wanted
    with pytest.raises(InvocationError) as raised:
        cloud.invoke("SleepFunction", {"seconds": 2})
    assert raised.value.error_type == "Sandbox.Timedout"
    assert raised.value.message == "Task timed out after 1.00 seconds"
    assert request(cloud, "GET", "/sleep?seconds=0").status == 200
    assert request(cloud, "GET", "/counter").status == 200


def test_worker_crash_is_an_invocation_error_and_the_next_call_works(cloud: LocalCloud) -> None:
    before = request(cloud, "GET", "/crash").json()["pid"]
    response = request(cloud, "GET", "/crash?exit=1")
    assert response.status == 502
    assert response.json() == {"message": "Internal server error"}
    after = request(cloud, "GET", "/crash").json()["pid"]
    assert after != before
    with pytest.raises(InvocationError) as raised:
        cloud.invoke("CrashFunction", {"exit": True})
    assert raised.value.error_type == "Runtime.ExitError"
    assert cloud.invoke("CrashFunction", {})["statusCode"] == 200


def test_a_worker_over_its_memory_size_is_out_of_memory_and_replaced(cloud: LocalCloud) -> None:
    before = json.loads(cloud.invoke("CrashFunction", {})["body"])["pid"]
    with pytest.raises(InvocationError) as raised:
        cloud.invoke("CrashFunction", {"allocate_mb": 450})  # the function has 384 MB
    assert raised.value.error_type == "Runtime.OutOfMemory"
    after = json.loads(cloud.invoke("CrashFunction", {})["body"])["pid"]
    assert after != before


def test_each_invocation_logs_start_end_and_report_with_its_request_id(
    cloud: LocalCloud, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="localcloud"):
        aws_request_id = echo(cloud, "GET", "/public/logs")["context"]["aws_request_id"]
    lines = [r.getMessage() for r in caplog.records if aws_request_id in r.getMessage()]
    assert len(lines) == 3, lines
    assert lines[0] == f"[EchoFunction] START RequestId: {aws_request_id} Version: $LATEST"
    assert lines[1] == f"[EchoFunction] END RequestId: {aws_request_id}"
    assert re.match(
        rf"^\[EchoFunction\] REPORT RequestId: {aws_request_id}\tDuration: \d+\.\d\d ms\t"
        r"Billed Duration: \d+ ms\tMemory Size: 384 MB\tMax Memory Used: [1-9]\d* MB",
        lines[2],
    ), lines[2]
    assert all(r.levelno == logging.INFO for r in caplog.records if aws_request_id in r.getMessage())


def test_invoke_against_the_running_moto_prints_lambdas_error_shape(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    """`python -m localcloud invoke` uses the moto that already answers on --aws-port (as `make run`'s)."""
    event_file = tmp_path / "crash.json"
    event_file.write_text(json.dumps({"exit": True}))
    done = subprocess.run(
        cli(
            "--template",
            str(TEMPLATE),
            "--aws-port",
            str(cloud.settings.aws_port),
            "invoke",
            "CrashFunction",
            "--event",
            str(event_file),
        ),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    error = json.loads(done.stdout)
    assert error["errorType"] == "Runtime.ExitError"
    assert set(error) == {"errorType", "errorMessage", "stackTrace"}
    assert request(cloud, "GET", "/counter").status == 200  # the running moto is still there
