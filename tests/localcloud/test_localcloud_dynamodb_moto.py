"""DynamoDB in a moto process of its own: the relay on the AWS port (localcloud/forward.py) and the cloud
that starts both processes, with its functions calling DynamoDB's moto directly."""

from __future__ import annotations

import gzip
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from localcloud.cloud import LocalCloud, free_port
from localcloud.forward import Forwarder, service_of
from localcloud.resources import client
from tests.localcloud.support import FIXTURES, STACK, port_is_free, request, running_cloud

SCOPE = (
    "AWS4-HMAC-SHA256 Credential=testing/20261126/us-east-1/{service}/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


# --- which service a request is for ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "service"),
    [
        ({"HTTP_AUTHORIZATION": SCOPE.format(service="dynamodb")}, "dynamodb"),
        (
            {"HTTP_AUTHORIZATION": SCOPE.format(service="sqs"), "HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessage"},
            "sqs",
        ),
        ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"}, "dynamodb"),  # unsigned
        ({"HTTP_X_AMZ_TARGET": "DynamoDBStreams_20120810.GetRecords"}, "dynamodb"),
        ({"HTTP_X_AMZ_TARGET": "Kinesis_20131202.PutRecords"}, None),
        ({}, None),
    ],
)
def test_the_service_comes_from_the_signing_scope_or_else_the_target(
    headers: dict[str, str], service: str | None
) -> None:
    assert service_of(headers) == service


# --- the relay, against a recording server ----------------------------------------------------------


class Recorder:
    """A WSGI app that answers with a fixed body and keeps what it was asked."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        incoming = Request(environ)
        self.requests.append(
            {
                "method": incoming.method,
                "path": environ["RAW_URI"],  # as it came on the wire
                "headers": dict(incoming.headers),
                "body": incoming.get_data(),
            }
        )
        body = json.dumps({"served_by": self.name}).encode()
        headers = {"x-amz-crc32": "123", "x-amzn-RequestId": "r-1"}
        if incoming.args.get("gzip"):
            body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
        response = Response(
            body,
            status=400 if incoming.args.get("fail") else 200,
            headers=headers,
            content_type="application/x-amz-json-1.0",
        )
        return response(environ, start_response)


@pytest.fixture
def backend() -> Iterator[tuple[Recorder, str]]:
    recorder = Recorder("dynamodb moto")
    server = make_server("127.0.0.1", 0, recorder, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def dynamodb_headers() -> dict[str, str]:
    return {
        "Authorization": SCOPE.format(service="dynamodb"),
        "X-Amz-Target": "DynamoDB_20120810.PutItem",
        "Host": "127.0.0.1:4566",
    }


def test_a_request_for_the_forwarded_service_reaches_its_moto_as_it_came_and_its_answer_comes_back(
    backend: tuple[Recorder, str],
) -> None:
    recorder, url = backend
    local = Recorder("this moto")
    relay = Client(Forwarder(local, {"dynamodb": url}, connections=2))
    body = b'{"TableName": "t", "Item": {"k": {"S": "\xc3\xa9"}}}'
    answer = relay.post(
        "/a%20path/",
        query_string="fail=1",
        data=body,
        headers=dynamodb_headers(),
        content_type="application/x-amz-json-1.0",
    )
    assert answer.status_code == 400  # an error answer is relayed as it is, not retried or rewritten
    assert answer.get_json(force=True) == {"served_by": "dynamodb moto"}
    assert answer.headers["x-amz-crc32"] == "123" and answer.headers["x-amzn-RequestId"] == "r-1"
    assert local.requests == []
    (seen,) = recorder.requests
    assert seen["method"] == "POST" and seen["path"] == "/a%20path/?fail=1"
    assert seen["body"] == body
    assert seen["headers"]["Host"] == "127.0.0.1:4566"  # moto picks its backend by host, as on 4566
    assert seen["headers"]["X-Amz-Target"] == "DynamoDB_20120810.PutItem"
    assert seen["headers"]["Authorization"] == SCOPE.format(service="dynamodb")
    assert seen["headers"]["Content-Type"] == "application/x-amz-json-1.0"


def test_a_compressed_answer_is_relayed_as_it_came(backend: tuple[Recorder, str]) -> None:
    _, url = backend
    relay = Client(Forwarder(Recorder("this moto"), {"dynamodb": url}, connections=1))
    answer = relay.post("/", query_string="gzip=1", data=b"{}", headers=dynamodb_headers())
    assert answer.headers["Content-Encoding"] == "gzip"  # so the caller's SDK decompresses it, once
    assert gzip.decompress(answer.data) == b'{"served_by": "dynamodb moto"}'
    assert answer.headers["Content-Length"] == str(len(answer.data))


def test_other_services_are_served_by_the_moto_on_the_port(backend: tuple[Recorder, str]) -> None:
    recorder, url = backend
    local = Recorder("this moto")
    relay = Client(Forwarder(local, {"dynamodb": url}, connections=2))
    answer = relay.post(
        "/", data=b"Action=ListQueues", headers={"Authorization": SCOPE.format(service="sqs")}
    )
    assert answer.get_json(force=True) == {"served_by": "this moto"}
    assert recorder.requests == [] and len(local.requests) == 1


def test_a_forwarded_service_whose_moto_is_down_is_a_503_the_sdk_retries() -> None:
    relay = Client(
        Forwarder(Recorder("this moto"), {"dynamodb": f"http://127.0.0.1:{free_port()}"}, connections=1)
    )
    answer = relay.post("/", data=b"{}", headers=dynamodb_headers())
    assert answer.status_code == 503
    assert answer.get_json(force=True)["__type"] == "ServiceUnavailable"


# --- the local cloud with DynamoDB's own moto ---------------------------------------------------------

TEMPLATE = FIXTURES / "api" / "template.yaml"


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with running_cloud(TEMPLATE, dynamodb_port=0) as running:
        yield running


def calls_of(endpoint: str, token: str) -> int:
    item = client("dynamodb", endpoint).get_item(
        TableName=f"{STACK}-authorizer-calls", Key={"token": {"S": token}}, ConsistentRead=True
    )
    return int(item.get("Item", {}).get("calls", {}).get("N", "0"))


def test_functions_reach_dynamodb_at_its_own_moto_and_the_aws_port_still_answers_for_it(
    cloud: LocalCloud,
) -> None:
    assert cloud.dynamodb_endpoint is not None and cloud.dynamodb_endpoint != cloud.endpoint
    environment = cloud.function_environment()
    assert environment["AWS_ENDPOINT_URL_DYNAMODB"] == cloud.dynamodb_endpoint
    assert environment["AWS_ENDPOINT_URL"] == cloud.endpoint
    token = f"allow-{uuid.uuid4().hex[:8]}"
    # the authorizer function counts its calls in DynamoDB
    assert request(cloud, "GET", "/items/1", headers=[("X-Token", token)]).status == 200
    assert calls_of(cloud.dynamodb_endpoint, token) == 1
    assert calls_of(cloud.endpoint, token) == 1  # through the relay: the same table


def test_botocore_sends_a_function_s_dynamodb_calls_to_its_own_moto(
    cloud: LocalCloud, monkeypatch: Any
) -> None:
    for name, value in cloud.function_environment().items():
        monkeypatch.setenv(name, value)
    session = boto3.session.Session()
    assert session.client("dynamodb").meta.endpoint_url == cloud.dynamodb_endpoint
    assert session.client("sqs").meta.endpoint_url == cloud.endpoint


def test_dynamodb_lives_only_in_its_own_moto(cloud: LocalCloud) -> None:
    assert cloud.dynamodb_endpoint is not None
    tables = client("dynamodb", cloud.dynamodb_endpoint).list_tables()["TableNames"]
    assert f"{STACK}-authorizer-calls" in tables
    assert client("dynamodb", cloud.endpoint).list_tables()["TableNames"] == tables
    # moto's own view of each process (unsigned, so the relay leaves it to the moto on the port)
    here = requests.get(f"{cloud.endpoint}/moto-api/data.json", timeout=10).json()
    there = requests.get(f"{cloud.dynamodb_endpoint}/moto-api/data.json", timeout=10).json()
    assert not any(here.get("dynamodb", {}).values())
    assert any(there.get("dynamodb", {}).values())


def test_stopping_the_cloud_stops_both_motos() -> None:
    with running_cloud(TEMPLATE, dynamodb_port=0, start_api=False, start_pollers=False) as running:
        assert running.dynamodb_endpoint is not None
        ports = [int(url.rsplit(":", 1)[1]) for url in (running.endpoint, running.dynamodb_endpoint)]
        assert not any(port_is_free(port) for port in ports)
    assert all(port_is_free(port) for port in ports)
