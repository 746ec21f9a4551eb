"""One contract, two implementations: the DynamoDB adapters and the in-memory fakes answer alike.

The unit suite trusts the fakes; this suite is what earns that trust, on the tables of template.yaml.
"""

from __future__ import annotations

import uuid

import pytest

from localcloud.resources import LocalResources
from tests.fakes.identity import InMemoryRateLimitStore, InMemorySessionStore, InMemoryUserStore
from tradestream.adapters.dynamodb.identity import DynamoRateLimitStore, DynamoSessionStore, DynamoUserStore
from tradestream.auth import BucketState
from tradestream.errors import UsernameTaken
from tradestream.identity.ports import RateLimitStore, SessionRecord, SessionStore, UserRecord, UserStore

IMPLEMENTATIONS = ["dynamodb", "in-memory"]


def _id() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="module", params=IMPLEMENTATIONS)
def users(request: pytest.FixtureRequest, identity_env: LocalResources) -> UserStore:
    if request.param == "dynamodb":
        return DynamoUserStore(identity_env.names["UsersTable"])
    return InMemoryUserStore()


@pytest.fixture(scope="module", params=IMPLEMENTATIONS)
def sessions(request: pytest.FixtureRequest, identity_env: LocalResources) -> SessionStore:
    if request.param == "dynamodb":
        return DynamoSessionStore(identity_env.names["SessionsTable"])
    return InMemorySessionStore()


@pytest.fixture(scope="module", params=IMPLEMENTATIONS)
def buckets(request: pytest.FixtureRequest, identity_env: LocalResources) -> RateLimitStore:
    if request.param == "dynamodb":
        return DynamoRateLimitStore(identity_env.names["RateLimitTable"])
    return InMemoryRateLimitStore()


def _user(username: str) -> UserRecord:
    return UserRecord(
        user_id=_id(), username=username, password_hash="$argon2id$x", created_at="2027-01-15T08:00:00.000Z"
    )


def _session(family_id: str, *, jti: str = "jti-1") -> SessionRecord:
    return SessionRecord(
        family_id=family_id, user_id="u-1", current_jti=jti, revoked=False, expires_at=1_900_000_000
    )


def test_users_are_created_once_and_read_back(users: UserStore) -> None:
    name = f"u_{_id()}"
    user = _user(name)

    assert users.get(name) is None
    users.create(user)
    assert users.get(name) == user
    with pytest.raises(UsernameTaken):
        users.create(_user(name))
    assert users.get(name) == user  # the loser did not overwrite the winner


def test_a_session_rotates_only_from_its_current_jti(sessions: SessionStore) -> None:
    family = _id()
    sessions.create(_session(family))

    assert sessions.rotate(family, expected_jti="jti-0", new_jti="jti-x", expires_at=1) is False
    assert sessions.rotate(family, expected_jti="jti-1", new_jti="jti-2", expires_at=1_900_000_100) is True
    assert sessions.rotate(family, expected_jti="jti-1", new_jti="jti-3", expires_at=1) is False
    stored = sessions.get(family)
    assert stored == SessionRecord(
        family_id=family, user_id="u-1", current_jti="jti-2", revoked=False, expires_at=1_900_000_100
    )


def test_a_revoked_session_never_rotates_again(sessions: SessionStore) -> None:
    family = _id()
    sessions.create(_session(family))

    sessions.revoke(family)
    sessions.revoke(family)  # idempotent

    assert sessions.rotate(family, expected_jti="jti-1", new_jti="jti-2", expires_at=1) is False
    stored = sessions.get(family)
    assert stored is not None and (stored.revoked, stored.current_jti) == (True, "jti-1")


def test_unknown_families_are_never_created_by_rotate_or_revoke(sessions: SessionStore) -> None:
    family = _id()

    assert sessions.rotate(family, expected_jti="jti-1", new_jti="jti-2", expires_at=1) is False
    sessions.revoke(family)

    assert sessions.get(family) is None


def test_bucket_writes_are_optimistic_on_the_whole_state(buckets: RateLimitStore) -> None:
    key = f"login#{_id()}"
    first = BucketState(tokens_milli=19_000, updated_at_ms=1_000)
    second = BucketState(tokens_milli=18_000, updated_at_ms=1_000)  # same millisecond, one token fewer

    assert buckets.get(key) is None
    assert buckets.put(key, first, expected=None) is True
    assert buckets.put(key, first, expected=None) is False  # someone created it first
    assert buckets.put(key, second, expected=BucketState(tokens_milli=20_000, updated_at_ms=1_000)) is False
    assert buckets.put(key, second, expected=first) is True
    assert buckets.put(key, first, expected=first) is False  # a stale read loses even at the same timestamp
    assert buckets.get(key) == second
