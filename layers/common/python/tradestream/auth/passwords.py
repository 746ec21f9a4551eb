"""Password hashing with argon2id, plus a decoy verify so unknown users cost as much as wrong passwords."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

# argon2id at OWASP's minimum recommendation (19 MiB, 2 passes, 1 lane): roughly 20-50 ms per hash on
# a Lambda vCPU. Memory is per concurrent login inside the function's own allowance (256 MB+), so
# 19 MiB leaves headroom; one lane because below ~1.8 GB a Lambda has less than one full vCPU and
# extra lanes would only contend for it. Raising these later is safe: needs_rehash() upgrades
# stored hashes at the next successful login.
TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1


def default_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM)


class PasswordHashing:
    """Hash, verify and decoy-verify passwords with one argon2 hasher, so all three cost the same."""

    __slots__ = ("_decoy_hash", "_hasher")

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher if hasher is not None else default_hasher()
        self._decoy_hash: str | None = None

    def hash_password(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify_password(self, password_hash: str, password: str) -> bool:
        """True when `password` matches, False when it does not.

        A stored hash argon2 cannot read raises (InvalidHashError, VerificationError): that is corrupt
        data to surface as a 500, not a wrong password to answer with a 401.
        """
        try:
            return self._hasher.verify(password_hash, password)
        except VerifyMismatchError:
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def burn_verify(self) -> None:
        """Spend one real verify for a login whose user does not exist, so timing does not reveal it."""
        # The decoy is hashed by this same hasher, so it carries today's parameters and the verify
        # below costs exactly what a wrong password for a real user costs.
        if self._decoy_hash is None:
            self._decoy_hash = self._hasher.hash(secrets.token_urlsafe(32))
        self.verify_password(self._decoy_hash, secrets.token_urlsafe(32))


_default = PasswordHashing()


def hash_password(password: str) -> str:
    return _default.hash_password(password)


def verify_password(password_hash: str, password: str) -> bool:
    return _default.verify_password(password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return _default.needs_rehash(password_hash)


def burn_verify() -> None:
    _default.burn_verify()
