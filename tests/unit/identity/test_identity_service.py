"""Identity use cases over in-memory ports: register, login, refresh rotation, logout, the authorizer rule."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher

from tests.fakes.clock import ManualClock
from tests.fakes.identity import InMemorySessionStore, InMemoryUserStore
from tradestream.auth import KeyRing, PasswordHashing, TokenIssuer, TokenVerifier
from tradestream.auth.tokens import ACCESS_TTL_SECONDS, LEEWAY_SECONDS, REFRESH_TTL_SECONDS
from tradestream.errors import (
    InvalidCredentials,
    InvalidToken,
    TokenReused,
    TradeStreamError,
    UsernameTaken,
    ValidationFailed,
)
from tradestream.identity.ports import SessionRecord, UserRecord
from tradestream.identity.service import DEFAULT_SCOPES, Authorization, IdentityService, LoginResult

ISSUER = "https://tradestream.test"
AUDIENCE = "tradestream-api"
START = 1_800_000_000.0
PASSWORD = "correct horse"


class SpyPasswordHashing(PasswordHashing):
    """Real argon2 at toy cost, counting each kind of call so tests can see what a login spent."""

    def __init__(self) -> None:
        super().__init__(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        self.hashes = 0
        self.verifies = 0
        self.burns = 0

    def hash_password(self, password: str) -> str:
        self.hashes += 1
        return super().hash_password(password)

    def verify_password(self, password_hash: str, password: str) -> bool:
        self.verifies += 1
        return super().verify_password(password_hash, password)

    def burn_verify(self) -> None:
        self.burns += 1
        super().burn_verify()


def _ids(prefix: str) -> Callable[[], str]:
    counter = iter(range(1_000_000))
    return lambda: f"{prefix}-{next(counter)}"


@dataclass
class World:
    service: IdentityService
    authorization: Authorization
    users: InMemoryUserStore
    sessions: InMemorySessionStore
    passwords: SpyPasswordHashing
    clock: ManualClock
    issuer: TokenIssuer
    verifier: TokenVerifier

    def register_and_login(self, username: str = "alice") -> LoginResult:
        self.service.register(username, PASSWORD)
        return self.service.login(username, PASSWORD, source_ip="198.51.100.7")


@pytest.fixture
def world(keyring: KeyRing) -> World:
    clock = ManualClock(START)
    users, sessions, passwords = InMemoryUserStore(), InMemorySessionStore(), SpyPasswordHashing()
    issuer = TokenIssuer(keyring, ISSUER, AUDIENCE, new_id=_ids("jti"))
    verifier = TokenVerifier(keyring, ISSUER, AUDIENCE)
    service = IdentityService(
        users=users,
        sessions=sessions,
        issuer=issuer,
        verifier=verifier,
        passwords=passwords,
        clock=clock,
        new_id=_ids("id"),
    )
    authorization = Authorization(verifier=verifier, sessions=sessions, clock=clock)
    return World(service, authorization, users, sessions, passwords, clock, issuer, verifier)


def _reason(error: TradeStreamError) -> object:
    return error.extra.get("reason")


# --- register ---------------------------------------------------------------------------------------


def test_register_stores_a_trimmed_username_and_an_argon2_hash(world: World) -> None:
    user = world.service.register("  alice.b-1_  ", PASSWORD)

    assert (user.user_id, user.username) == ("id-0", "alice.b-1_")
    assert user.created_at == "2027-01-15T08:00:00.000Z"
    assert world.users.all() == [user]
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert world.passwords.verify_password(user.password_hash, PASSWORD) is True


@pytest.mark.parametrize(
    ("username", "password", "fields"),
    [
        ("ab", PASSWORD, ["username"]),
        ("a" * 65, PASSWORD, ["username"]),
        ("al ice", PASSWORD, ["username"]),
        ("alice!", PASSWORD, ["username"]),
        ("ålice", PASSWORD, ["username"]),
        ("   ", PASSWORD, ["username"]),
        ("alice", "x" * 7, ["password"]),
        ("alice", "x" * 129, ["password"]),
        ("a", "short", ["username", "password"]),
    ],
)
def test_register_refuses_invalid_input_and_stores_nothing(
    world: World, username: str, password: str, fields: list[str]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        world.service.register(username, password)

    assert caught.value.code == "VALIDATION_ERROR"
    assert [error["field"] for error in caught.value.extra["errors"]] == fields
    assert world.users.all() == []
    assert world.passwords.hashes == 0


@pytest.mark.parametrize(("username", "password"), [("abc", "x" * 8), ("a" * 64, "x" * 128)])
def test_register_accepts_the_boundaries(world: World, username: str, password: str) -> None:
    assert world.service.register(username, password).username == username


@pytest.mark.parametrize("again", ["alice", "  alice "])
def test_a_taken_username_is_a_conflict_and_the_first_account_stays(world: World, again: str) -> None:
    first = world.service.register("alice", PASSWORD)

    with pytest.raises(UsernameTaken) as caught:
        world.service.register(again, "another password")

    assert (caught.value.status, caught.value.code) == (409, "USERNAME_TAKEN")
    assert world.users.all() == [first]


def test_concurrent_registrations_of_one_name_create_exactly_one_user(world: World) -> None:
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def register() -> None:
        start.wait()
        try:
            world.service.register("race", PASSWORD)
            outcomes.append("created")
        except UsernameTaken:
            outcomes.append("taken")

    threads = [threading.Thread(target=register) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created"] + ["taken"] * 7
    assert len(world.users.all()) == 1


# --- login ------------------------------------------------------------------------------------------


def test_login_mints_a_pair_for_the_user_and_opens_a_session(world: World) -> None:
    user = world.service.register("alice", PASSWORD)

    result = world.service.login(" alice ", PASSWORD, source_ip="198.51.100.7")

    assert (result.user_id, result.username) == (user.user_id, "alice")
    assert result.tokens.expires_in == ACCESS_TTL_SECONDS
    access = world.verifier.verify_access(result.tokens.access_token, int(START))
    refresh = world.verifier.verify_refresh(result.tokens.refresh_token, int(START))
    assert (access.user_id, access.username, access.scopes) == (user.user_id, "alice", DEFAULT_SCOPES)
    assert access.expires_at == int(START) + ACCESS_TTL_SECONDS
    assert refresh.family_id == access.family_id
    assert refresh.jti == result.tokens.refresh_jti
    assert world.sessions.get(access.family_id) == SessionRecord(
        family_id=access.family_id,
        user_id=user.user_id,
        current_jti=refresh.jti,
        revoked=False,
        expires_at=int(START) + REFRESH_TTL_SECONDS,
    )


def test_unknown_user_and_wrong_password_are_the_same_error_at_the_same_cost(world: World) -> None:
    world.service.register("alice", PASSWORD)
    world.passwords.verifies = world.passwords.burns = 0

    with pytest.raises(InvalidCredentials) as wrong_password:
        world.service.login("alice", "wrong horse", source_ip="198.51.100.7")
    assert (world.passwords.verifies, world.passwords.burns) == (1, 0)

    with pytest.raises(InvalidCredentials) as unknown_user:
        world.service.login("mallory", "wrong horse", source_ip="198.51.100.7")
    # The decoy verify is one real argon2 verify, as the wrong password cost.
    assert world.passwords.burns == 1

    a, b = wrong_password.value, unknown_user.value
    assert (a.status, a.code, a.title, a.detail, a.extra) == (b.status, b.code, b.title, b.detail, b.extra)
    assert (a.status, a.code) == (401, "INVALID_CREDENTIALS")
    assert world.sessions.get("id-1") is None  # no family was opened


@pytest.mark.parametrize("username", ["", "   ", "no such user!", "x" * 200])
def test_usernames_that_cannot_exist_read_as_unknown_users_without_a_lookup(
    world: World, username: str
) -> None:
    with pytest.raises(InvalidCredentials):
        world.service.login(username, PASSWORD, source_ip="198.51.100.7")
    assert world.passwords.burns == 1
    assert world.users.lookups == []


def test_password_is_compared_untrimmed(world: World) -> None:
    world.service.register("alice", PASSWORD)
    with pytest.raises(InvalidCredentials):
        world.service.login("alice", PASSWORD + " ", source_ip="198.51.100.7")


# --- refresh ----------------------------------------------------------------------------------------


def test_refresh_rotates_the_refresh_token_and_keeps_the_family(world: World) -> None:
    login = world.register_and_login()
    world.clock.advance(60)

    rotated = world.service.refresh(login.tokens.refresh_token)

    assert (rotated.user_id, rotated.username) == (login.user_id, "alice")
    assert rotated.tokens.refresh_token != login.tokens.refresh_token
    assert rotated.tokens.access_token != login.tokens.access_token
    old = world.verifier.verify_refresh(login.tokens.refresh_token, int(world.clock()))
    new = world.verifier.verify_refresh(rotated.tokens.refresh_token, int(world.clock()))
    assert new.family_id == old.family_id
    assert new.jti != old.jti
    session = world.sessions.get(new.family_id)
    assert session is not None
    assert (session.current_jti, session.revoked) == (new.jti, False)
    assert session.expires_at == int(START) + 60 + REFRESH_TTL_SECONDS
    # The new access token is good at the authorizer.
    assert world.authorization.authorize(rotated.tokens.access_token).user_id == login.user_id


def test_a_chain_of_rotations_only_ever_accepts_the_newest_token(world: World) -> None:
    tokens = [world.register_and_login().tokens.refresh_token]
    for _ in range(3):
        tokens.append(world.service.refresh(tokens[-1]).tokens.refresh_token)
    assert len(set(tokens)) == 4

    with pytest.raises(TokenReused):
        world.service.refresh(tokens[1])


def test_reusing_a_rotated_token_revokes_the_whole_family(world: World) -> None:
    login = world.register_and_login()
    rotated = world.service.refresh(login.tokens.refresh_token)

    with pytest.raises(TokenReused) as caught:
        world.service.refresh(login.tokens.refresh_token)  # the stolen copy comes back

    assert (caught.value.status, caught.value.code) == (401, "TOKEN_REUSED")
    family = world.verifier.verify_refresh(login.tokens.refresh_token, int(START)).family_id
    session = world.sessions.get(family)
    assert session is not None and session.revoked is True
    # Even the newest refresh token and every access token of the family are dead now.
    with pytest.raises(InvalidToken) as newest:
        world.service.refresh(rotated.tokens.refresh_token)
    assert newest.value.code == "INVALID_TOKEN"
    for access in (login.tokens.access_token, rotated.tokens.access_token):
        with pytest.raises(InvalidToken):
            world.authorization.authorize(access)


def test_reuse_revokes_only_that_family(world: World) -> None:
    first = world.register_and_login()
    other_device = world.service.login("alice", PASSWORD, source_ip="198.51.100.8")
    world.service.refresh(first.tokens.refresh_token)

    with pytest.raises(TokenReused):
        world.service.refresh(first.tokens.refresh_token)

    assert world.service.refresh(other_device.tokens.refresh_token).user_id == first.user_id


def test_a_rotated_token_of_an_already_revoked_family_is_invalid_not_reuse(world: World) -> None:
    login = world.register_and_login()
    world.service.refresh(login.tokens.refresh_token)
    world.service.logout(login.tokens.refresh_token, caller_user_id=login.user_id)

    with pytest.raises(InvalidToken) as caught:
        world.service.refresh(login.tokens.refresh_token)
    assert type(caught.value) is InvalidToken


def test_refresh_refuses_an_access_token(world: World) -> None:
    login = world.register_and_login()
    with pytest.raises(InvalidToken) as caught:
        world.service.refresh(login.tokens.access_token)
    assert _reason(caught.value) == "wrong_token_type"


def test_refresh_refuses_an_expired_refresh_token(world: World) -> None:
    login = world.register_and_login()
    world.clock.advance(REFRESH_TTL_SECONDS + LEEWAY_SECONDS)
    with pytest.raises(InvalidToken) as caught:
        world.service.refresh(login.tokens.refresh_token)
    assert _reason(caught.value) == "expired"


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
def test_refresh_refuses_garbage(world: World, token: str) -> None:
    with pytest.raises(InvalidToken):
        world.service.refresh(token)


def test_refresh_of_a_signed_token_without_a_session_is_invalid(world: World) -> None:
    pair = world.issuer.mint_pair(
        user_id="ghost", username="ghost", scopes=DEFAULT_SCOPES, family_id="no-such-family", now=int(START)
    )
    with pytest.raises(InvalidToken) as caught:
        world.service.refresh(pair.refresh_token)
    assert type(caught.value) is InvalidToken
    assert world.sessions.get("no-such-family") is None


# --- logout -----------------------------------------------------------------------------------------


def test_logout_revokes_the_family(world: World) -> None:
    login = world.register_and_login()

    world.service.logout(login.tokens.refresh_token, caller_user_id=login.user_id)

    with pytest.raises(InvalidToken):
        world.service.refresh(login.tokens.refresh_token)
    with pytest.raises(InvalidToken):
        world.authorization.authorize(login.tokens.access_token)
    # Logging out twice is harmless.
    world.service.logout(login.tokens.refresh_token, caller_user_id=login.user_id)


def test_logout_with_another_users_refresh_token_is_refused_and_revokes_nothing(world: World) -> None:
    alice = world.register_and_login("alice")
    bob = world.register_and_login("bob")

    with pytest.raises(InvalidToken) as caught:
        world.service.logout(alice.tokens.refresh_token, caller_user_id=bob.user_id)

    assert caught.value.status == 401
    assert world.service.refresh(alice.tokens.refresh_token).user_id == alice.user_id


def test_logout_refuses_an_access_token_in_place_of_the_refresh_token(world: World) -> None:
    login = world.register_and_login()
    with pytest.raises(InvalidToken):
        world.service.logout(login.tokens.access_token, caller_user_id=login.user_id)
    assert world.authorization.authorize(login.tokens.access_token).user_id == login.user_id


# --- the authorizer's rule --------------------------------------------------------------------------


def test_authorize_returns_the_callers_claims(world: World) -> None:
    login = world.register_and_login()

    claims = world.authorization.authorize(login.tokens.access_token)

    assert (claims.user_id, claims.username, claims.scopes) == (login.user_id, "alice", DEFAULT_SCOPES)


def test_authorize_refuses_a_refresh_token(world: World) -> None:
    login = world.register_and_login()
    with pytest.raises(InvalidToken) as caught:
        world.authorization.authorize(login.tokens.refresh_token)
    assert _reason(caught.value) == "wrong_token_type"


def test_authorize_allows_60_seconds_of_skew_past_expiry_and_no_more(world: World) -> None:
    login = world.register_and_login()
    world.clock.advance(ACCESS_TTL_SECONDS + LEEWAY_SECONDS - 1)
    assert world.authorization.authorize(login.tokens.access_token).user_id == login.user_id

    world.clock.advance(1)
    with pytest.raises(InvalidToken) as caught:
        world.authorization.authorize(login.tokens.access_token)
    assert _reason(caught.value) == "expired"


def test_authorize_refuses_a_revoked_family(world: World) -> None:
    login = world.register_and_login()
    family = world.verifier.verify_access(login.tokens.access_token, int(START)).family_id
    world.sessions.revoke(family)
    with pytest.raises(InvalidToken):
        world.authorization.authorize(login.tokens.access_token)


def test_authorize_refuses_a_family_that_does_not_exist_or_belongs_to_someone_else(world: World) -> None:
    orphan = world.issuer.mint_pair(
        user_id="u-1", username="alice", scopes=DEFAULT_SCOPES, family_id="fam-x", now=int(START)
    )
    with pytest.raises(InvalidToken):
        world.authorization.authorize(orphan.access_token)

    world.sessions.create(
        SessionRecord(family_id="fam-x", user_id="u-2", current_jti="j", revoked=False, expires_at=2**40)
    )
    with pytest.raises(InvalidToken):
        world.authorization.authorize(orphan.access_token)


def test_login_upgrades_a_hash_made_with_weaker_parameters(world: World) -> None:
    weak = PasswordHashing(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, salt_len=8))
    world.users.create(
        UserRecord(
            user_id="u-old", username="legacy", password_hash=weak.hash_password(PASSWORD), created_at="t"
        )
    )
    old_hash = world.users.get("legacy")
    assert old_hash is not None and world.passwords.needs_rehash(old_hash.password_hash)

    world.service.login("legacy", PASSWORD, source_ip="198.51.100.9")

    upgraded = world.users.get("legacy")
    assert upgraded is not None and upgraded.password_hash != old_hash.password_hash
    assert not world.passwords.needs_rehash(upgraded.password_hash)
    assert world.service.login("legacy", PASSWORD, source_ip="198.51.100.9").user_id == "u-old"


def test_login_keeps_a_current_hash(world: World) -> None:
    world.register_and_login("bob")
    before = world.users.get("bob")
    world.service.login("bob", PASSWORD, source_ip="198.51.100.9")
    assert world.users.get("bob") == before
