"""What the identity use cases need from storage, as small ABCs (adapters and fakes implement them)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from tradestream.auth import BucketState


@dataclass(frozen=True, kw_only=True)
class UserRecord:
    user_id: str
    username: str
    password_hash: str
    created_at: str


@dataclass(frozen=True, kw_only=True)
class SessionRecord:
    """A refresh-token family: only `current_jti` may be exchanged; anything older is reuse."""

    family_id: str
    user_id: str
    current_jti: str
    revoked: bool
    expires_at: int


class UserStore(ABC):
    @abstractmethod
    def create(self, user: UserRecord) -> None:
        """Insert; raises UsernameTaken if the username exists (a conditional write, race-safe)."""

    @abstractmethod
    def get(self, username: str) -> UserRecord | None: ...

    @abstractmethod
    def replace_password_hash(self, username: str, *, old_hash: str, new_hash: str) -> bool:
        """Swap the hash if it is still `old_hash` (a concurrent change wins); True if swapped."""


class SessionStore(ABC):
    @abstractmethod
    def create(self, session: SessionRecord) -> None: ...

    @abstractmethod
    def get(self, family_id: str) -> SessionRecord | None: ...

    @abstractmethod
    def rotate(self, family_id: str, *, expected_jti: str, new_jti: str, expires_at: int) -> bool:
        """Swap the current jti if it is `expected_jti` and the family is live; False otherwise."""

    @abstractmethod
    def revoke(self, family_id: str) -> None: ...


class RateLimitStore(ABC):
    @abstractmethod
    def get(self, key: str) -> BucketState | None: ...

    @abstractmethod
    def put(self, key: str, state: BucketState, *, expected: BucketState | None) -> bool:
        """Write if the stored state is still `expected` (None: absent); False when someone raced us."""
