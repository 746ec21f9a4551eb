"""The auth and authorizer functions started in-process against moto, each with the template's environment."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from localcloud.resources import LocalResources, client
from tests.events import LambdaContextStub, Reply, authorizer_event, rest_event
from tests.integration.conftest import SIGNING_KEY_PARAMETER, function_environment
from tests.support import load_function

PASSWORD = "correct horse battery"


@dataclass
class Function:
    """One warm container of a function: its module keeps its caches between invocations."""

    module: ModuleType

    def __call__(self, event: dict[str, Any]) -> Reply:
        return Reply.of(self.module.lambda_handler(event, LambdaContextStub()))

    def raw(self, event: dict[str, Any]) -> Any:
        return self.module.lambda_handler(event, LambdaContextStub())


ColdStart = Callable[..., Function]


@pytest.fixture(scope="module")
def identity_env(
    moto_endpoint: str, stack: LocalResources, signing_key_document: str
) -> Iterator[LocalResources]:
    """What `aws_env` sets up, held for a whole module so warm containers can be shared by its tests.

    Building a botocore client costs ~0.2 s here; a container per test would spend most of the
    suite's time creating clients, so containers live per module and only tests that need a cold
    start (racing containers, a patched clock, key rotation) make their own.
    """
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "SIGNING_KEY_PARAMETER": SIGNING_KEY_PARAMETER,
        }.items():
            env.setenv(name, value)
        client("ssm", moto_endpoint).put_parameter(
            Name=SIGNING_KEY_PARAMETER, Value=signing_key_document, Type="SecureString", Overwrite=True
        )
        yield stack


@pytest.fixture(scope="module")
def cold_start(identity_env: LocalResources) -> ColdStart:
    """Start a container of a template function with that function's own environment (plus overrides).

    The first invocation runs under exactly that environment, so settings read at cold start come
    from the template; later invocations reuse them, as a warm Lambda does.
    """

    def start(logical_id: str, **overrides: str) -> Function:
        folder = {"AuthFunction": "auth", "AuthorizerFunction": "authorizer"}[logical_id]
        env = {
            **function_environment(identity_env, logical_id),
            "SIGNING_KEY_PARAMETER": SIGNING_KEY_PARAMETER,
        }
        env.update(overrides)
        with pytest.MonkeyPatch.context() as scoped:
            for name in ("USERS_TABLE", "SESSIONS_TABLE", "RATE_LIMIT_TABLE"):
                scoped.delenv(name, raising=False)
            for name, value in env.items():
                scoped.setenv(name, value)
            function = Function(load_function(folder))
            if logical_id == "AuthFunction":
                assert function(rest_event("GET", "/.well-known/jwks.json")).status == 200
            else:
                with pytest.raises(Exception, match=r"^Unauthorized$"):
                    function.raw(authorizer_event(headers={"Authorization": "Bearer warm-up"}))
        return function

    return start


@pytest.fixture(scope="module")
def auth(cold_start: ColdStart) -> Function:
    return cold_start("AuthFunction")


@pytest.fixture(scope="module")
def authorizer(cold_start: ColdStart) -> Function:
    return cold_start("AuthorizerFunction")


@pytest.fixture(scope="session")
def signing_key(signing_key_document: str) -> dict[str, str]:
    """The current key of the test key ring: kid, privateKeyPem, publicKeyPem."""
    current: dict[str, str] = json.loads(signing_key_document)["current"]
    return current


@pytest.fixture
def username() -> str:
    """A name no other test uses (the tables live for the whole session)."""
    return f"user_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def source_ip() -> str:
    """A client address of this test alone, so login buckets never carry over between tests."""
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"
