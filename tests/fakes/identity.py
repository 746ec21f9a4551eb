"""In-memory UserStore, SessionStore and RateLimitStore with the same conditional-write semantics as DynamoDB.

Each store guards its dict with a lock so a check and its write are one step, as a conditional
PutItem/UpdateItem is; `writes` counts successful writes so tests can see what reached storage.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from tradestream.auth import BucketState
from tradestream.errors import UsernameTaken
from tradestream.identity.ports import RateLimitStore, SessionRecord, SessionStore, UserRecord, UserStore


class InMemoryUserStore(UserStore):
    """`lookups` lists every username asked for, so tests can see which logins reached storage."""

    def __init__(self) -> None:
        self._users: dict[str, UserRecord] = {}
        self._lock = threading.Lock()
        self.lookups: list[str] = []

    def create(self, user: UserRecord) -> None:
        with self._lock:  # attribute_not_exists(username)
            if user.username in self._users:
                raise UsernameTaken(f"username {user.username!r} is taken")
            self._users[user.username] = user

    def get(self, username: str) -> UserRecord | None:
        if not username:
            raise AssertionError("DynamoDB refuses an empty key value (ValidationException)")
        with self._lock:
            self.lookups.append(username)
            return self._users.get(username)

    def replace_password_hash(self, username: str, *, old_hash: str, new_hash: str) -> bool:
        with self._lock:  # condition: passwordHash = old_hash
            user = self._users.get(username)
            if user is None or user.password_hash != old_hash:
                return False
            self._users[username] = dataclasses.replace(user, password_hash=new_hash)
            return True

    def all(self) -> list[UserRecord]:
        with self._lock:
            return list(self._users.values())


class InMemorySessionStore(SessionStore):
    def __init__(self) -> None:
        self._sessions: dict[str, SessionRecord] = {}
        self._lock = threading.Lock()

    def create(self, session: SessionRecord) -> None:
        with self._lock:  # attribute_not_exists(familyId)
            if session.family_id in self._sessions:
                raise AssertionError(f"family {session.family_id} created twice")
            self._sessions[session.family_id] = session

    def get(self, family_id: str) -> SessionRecord | None:
        with self._lock:
            return self._sessions.get(family_id)

    def rotate(self, family_id: str, *, expected_jti: str, new_jti: str, expires_at: int) -> bool:
        with self._lock:  # currentJti = :expected AND revoked = false
            session = self._sessions.get(family_id)
            if session is None or session.revoked or session.current_jti != expected_jti:
                return False
            self._sessions[family_id] = dataclasses.replace(
                session, current_jti=new_jti, expires_at=expires_at
            )
            return True

    def revoke(self, family_id: str) -> None:
        with self._lock:  # attribute_exists(familyId): revoking an unknown family is a no-op
            session = self._sessions.get(family_id)
            if session is not None:
                self._sessions[family_id] = dataclasses.replace(session, revoked=True)


class InMemoryRateLimitStore(RateLimitStore):
    """Buckets by key; `put` succeeds only if the stored state is still `expected` (optimistic write).

    `after_get`, when set, runs after every read and before the caller can write: the window in
    which another Lambda's take may land. Tests use it to stage contention deterministically.
    """

    def __init__(self) -> None:
        self._buckets: dict[str, BucketState] = {}
        self._lock = threading.Lock()
        self.after_get: Callable[[str], None] | None = None
        self.writes = 0
        self.conflicts = 0

    def get(self, key: str) -> BucketState | None:
        with self._lock:
            state = self._buckets.get(key)
        if self.after_get is not None:
            self.after_get(key)
        return state

    def put(self, key: str, state: BucketState, *, expected: BucketState | None) -> bool:
        with self._lock:
            if self._buckets.get(key) != expected:
                self.conflicts += 1
                return False
            self._buckets[key] = state
            self.writes += 1
            return True

    def stored(self, key: str) -> BucketState | None:
        with self._lock:
            return self._buckets.get(key)
