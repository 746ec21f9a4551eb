"""Integration fixtures: one moto server per session, tables/queues/streams created from template.yaml."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from localcloud import template as template_loader
from localcloud.cloud import free_port
from localcloud.resources import LocalResources, client
from tests.support import ROOT, TEMPLATE
from tradestream.auth import generate_dev_keypair

SIGNING_KEY_PARAMETER = "/tradestream/test/jwt-signing-key"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def stack(moto_endpoint: str) -> LocalResources:
    """Every resource of template.yaml, provisioned once under a unique stack name."""
    template = template_loader.load(TEMPLATE)
    resources = LocalResources(template, stack_name=f"it-{uuid.uuid4().hex[:8]}", endpoint=moto_endpoint)
    resources.provision()
    return resources


@pytest.fixture(scope="session")
def signing_key_document() -> str:
    private_pem, public_pem = generate_dev_keypair(bits=2048)
    return json.dumps(
        {
            "current": {"kid": "test-key", "privateKeyPem": private_pem, "publicKeyPem": public_pem},
            "previous": [],
        }
    )


@pytest.fixture
def aws_env(
    monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, stack: LocalResources, signing_key_document: str
) -> LocalResources:
    """The environment a deployed function would see: endpoint, credentials, every table/queue name."""
    for key, value in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "SIGNING_KEY_PARAMETER": SIGNING_KEY_PARAMETER,
    }.items():
        monkeypatch.setenv(key, value)
    client("ssm", moto_endpoint).put_parameter(
        Name=SIGNING_KEY_PARAMETER, Value=signing_key_document, Type="SecureString", Overwrite=True
    )
    return stack


def function_environment(stack: LocalResources, logical_id: str) -> dict[str, str]:
    """The resolved Environment.Variables the template gives one function."""
    props = stack.properties(logical_id)
    return {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}


__all__ = ["ROOT", "Path", "function_environment"]
