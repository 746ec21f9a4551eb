"""Fixtures of the orders integration tests: the in-process exchange on the session's moto stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import botocore.session
import pynamodb.connection.base
import pytest

from localcloud.resources import LocalResources
from tests.integration.conftest import function_environment
from tests.integration.orders.harness import Exchange, User, new_user


@pytest.fixture(scope="module", autouse=True)
def shared_botocore_session() -> Iterator[None]:
    """pynamodb opens a new botocore session per model class, reloading the DynamoDB service model each
    time (0.1-0.3 s); every test loads fresh handler modules, so share one session to keep this suite fast.
    """
    session = botocore.session.get_session()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pynamodb.connection.base, "get_session", lambda: session)
        yield


@pytest.fixture
def exchange(aws_env: LocalResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[Exchange]:
    for logical_id in ("OrdersFunction", "MatchingFunction", "OrderStatusFunction"):
        for key, value in function_environment(aws_env, logical_id).items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    exchange = Exchange(aws_env)
    yield exchange
    exchange.close()


@pytest.fixture
def ticker() -> str:
    """A ticker no other test uses: its own lane group, book, log and view."""
    return "T" + uuid.uuid4().hex[:8].upper()


@pytest.fixture
def alice() -> User:
    return new_user("alice")


@pytest.fixture
def bob() -> User:
    return new_user("bob")
