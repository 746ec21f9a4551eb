"""The identity domain: keys and PS256 tokens, password hashing, login rate-limit math and identity rules."""

from .keys import (
    ALGORITHM,
    KeyConfigError,
    KeyRing,
    SigningKey,
    VerificationKey,
    generate_dev_keypair,
    jwk_thumbprint,
)
from .passwords import PasswordHashing, burn_verify, hash_password, needs_rehash, verify_password
from .ratelimit import BucketState, Decision, TokenBucket
from .rules import ensure_owner, validate_password, validate_registration, validate_username
from .tokens import (
    AccessClaims,
    RefreshClaims,
    RejectReason,
    TokenClaims,
    TokenIssuer,
    TokenPair,
    TokenType,
    TokenVerifier,
)

__all__ = [
    "ALGORITHM",
    "AccessClaims",
    "BucketState",
    "Decision",
    "KeyConfigError",
    "KeyRing",
    "PasswordHashing",
    "RefreshClaims",
    "RejectReason",
    "SigningKey",
    "TokenBucket",
    "TokenClaims",
    "TokenIssuer",
    "TokenPair",
    "TokenType",
    "TokenVerifier",
    "VerificationKey",
    "burn_verify",
    "ensure_owner",
    "generate_dev_keypair",
    "hash_password",
    "jwk_thumbprint",
    "needs_rehash",
    "validate_password",
    "validate_registration",
    "validate_username",
    "verify_password",
]
