"""E2E fixtures: the real template served by the embedded local cloud on free loopback ports."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from localcloud.cloud import LocalCloud, Settings, free_port
from tests.support import TEMPLATE
from tradestream.auth import generate_dev_keypair

SIGNING_KEY_PARAMETER = "/tradestream/local/jwt-signing-key"


@pytest.fixture(scope="session")
def cloud() -> Iterator[LocalCloud]:
    private_pem, public_pem = generate_dev_keypair(bits=2048)
    key = {
        "current": {"kid": "e2e", "privateKeyPem": private_pem, "publicKeyPem": public_pem},
        "previous": [],
    }
    settings = Settings(
        template=TEMPLATE,
        aws_port=free_port(),
        api_port=free_port(),
        stack_name="e2e",
        ssm_parameters={SIGNING_KEY_PARAMETER: json.dumps(key)},
        # DynamoDB in a moto of its own, as `make run` starts it (the fault suite runs one moto)
        dynamodb_port=0,
    )
    with LocalCloud(settings) as running:
        yield running


@pytest.fixture(scope="session")
def api(cloud: LocalCloud) -> str:
    return cloud.api_url


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
