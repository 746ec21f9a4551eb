"""Identity use cases over the ports: the rules of registration, login, refresh rotation and logout."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tradestream.auth import (
    AccessClaims,
    PasswordHashing,
    TokenBucket,
    TokenIssuer,
    TokenPair,
    TokenVerifier,
    validate_registration,
    validate_username,
)
from tradestream.errors import InvalidCredentials, InvalidToken, RateLimited, TokenReused, ValidationFailed
from tradestream.identity.ports import RateLimitStore, SessionRecord, SessionStore, UserRecord, UserStore

DEFAULT_SCOPES = ("orders:write", "orders:read", "portfolio:read")
_RATE_LIMIT_ATTEMPTS = 5


@dataclass(frozen=True, kw_only=True)
class LoginResult:
    user_id: str
    username: str
    tokens: TokenPair


def _iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _registrable(username: str) -> str | None:
    """The trimmed name if an account could have it; None for a name no registration accepts.

    Such a name is an unknown user (same 401, same cost) without a lookup: DynamoDB refuses an
    empty key outright, which would otherwise surface as a 500 for `""` or `"   "`.
    """
    try:
        return validate_username(username)
    except ValidationFailed:
        return None


class LoginThrottle:
    """Per-source-IP token bucket, applied with optimistic single-item writes."""

    def __init__(self, store: RateLimitStore, bucket: TokenBucket) -> None:
        self._store = store
        self._bucket = bucket

    def check(self, source_ip: str, now_ms: int) -> None:
        key = f"login#{source_ip}"
        for _ in range(_RATE_LIMIT_ATTEMPTS):
            stored = self._store.get(key)
            decision = self._bucket.take(stored, now_ms)
            if not decision.allowed:
                raise RateLimited(decision.retry_after_seconds, "too many login attempts from this address")
            if self._store.put(key, decision.new_state, expected=stored):
                return
        # Constant contention on one key is itself a flood: refuse rather than spin.
        raise RateLimited(1, "too many concurrent login attempts from this address")


class IdentityService:
    def __init__(
        self,
        *,
        users: UserStore,
        sessions: SessionStore,
        issuer: TokenIssuer,
        verifier: TokenVerifier,
        passwords: PasswordHashing,
        throttle: LoginThrottle | None = None,
        clock: Callable[[], float],
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._users = users
        self._sessions = sessions
        self._issuer = issuer
        self._verifier = verifier
        self._passwords = passwords
        self._throttle = throttle
        self._clock = clock
        self._new_id = new_id

    def register(self, username: str, password: str) -> UserRecord:
        username, password = validate_registration(username, password)
        user = UserRecord(
            user_id=self._new_id(),
            username=username,
            password_hash=self._passwords.hash_password(password),
            created_at=_iso(self._clock()),
        )
        self._users.create(user)
        return user

    def login(self, username: str, password: str, *, source_ip: str) -> LoginResult:
        now = self._clock()
        if self._throttle is not None:
            self._throttle.check(source_ip, int(now * 1000))
        user = self._users.get(name) if (name := _registrable(username)) else None
        if user is None:
            self._passwords.burn_verify()  # unknown user costs what a wrong password costs
            raise InvalidCredentials()
        if not self._passwords.verify_password(user.password_hash, password):
            raise InvalidCredentials()
        if self._passwords.needs_rehash(user.password_hash):
            # Parameters were raised since this hash was made: upgrade it now, while we know the password.
            self._users.replace_password_hash(
                user.username, old_hash=user.password_hash, new_hash=self._passwords.hash_password(password)
            )
        family_id = self._new_id()
        tokens = self._mint(user.user_id, user.username, family_id, int(now))
        self._sessions.create(
            SessionRecord(
                family_id=family_id,
                user_id=user.user_id,
                current_jti=tokens.refresh_jti,
                revoked=False,
                expires_at=tokens.refresh_expires_at,
            )
        )
        return LoginResult(user_id=user.user_id, username=user.username, tokens=tokens)

    def _mint(self, user_id: str, username: str, family_id: str, now: int) -> TokenPair:
        return self._issuer.mint_pair(
            user_id=user_id, username=username, scopes=DEFAULT_SCOPES, family_id=family_id, now=now
        )

    def refresh(self, refresh_token: str) -> LoginResult:
        now = int(self._clock())
        claims = self._verifier.verify_refresh(refresh_token, now)
        tokens = self._mint(claims.user_id, claims.username, claims.family_id, now)
        if self._sessions.rotate(
            claims.family_id,
            expected_jti=claims.jti,
            new_jti=tokens.refresh_jti,
            expires_at=tokens.refresh_expires_at,
        ):
            return LoginResult(user_id=claims.user_id, username=claims.username, tokens=tokens)
        session = self._sessions.get(claims.family_id)
        if session is None or session.revoked:
            raise InvalidToken("this session has ended; log in again")
        # A valid, signed refresh token that is no longer current was already exchanged: someone holds
        # a copy. Revoke the whole family so neither the thief nor the user can go on with it.
        self._sessions.revoke(claims.family_id)
        raise TokenReused()

    def logout(self, refresh_token: str, *, caller_user_id: str) -> None:
        claims = self._verifier.verify_refresh(refresh_token, int(self._clock()))
        if claims.user_id != caller_user_id:
            raise InvalidToken("the refresh token belongs to another user")
        self._sessions.revoke(claims.family_id)


class Authorization:
    """The authorizer's rule: a valid PS256 access token whose session family is still live."""

    def __init__(
        self, *, verifier: TokenVerifier, sessions: SessionStore, clock: Callable[[], float]
    ) -> None:
        self._verifier = verifier
        self._sessions = sessions
        self._clock = clock

    def authorize(self, token: str) -> AccessClaims:
        claims = self._verifier.verify_access(token, int(self._clock()))
        session = self._sessions.get(claims.family_id)
        if session is None or session.revoked or session.user_id != claims.user_id:
            raise InvalidToken("the session of this token was revoked")
        return claims
