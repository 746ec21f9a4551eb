"""PS256 access and refresh tokens: minting a pair and verifying either kind against an explicit clock."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import jwt

from tradestream.errors import InvalidToken

from .keys import ALGORITHM, KeyRing, VerificationKey

ACCESS_TTL_SECONDS = 15 * 60
REFRESH_TTL_SECONDS = 30 * 24 * 60 * 60
LEEWAY_SECONDS = 60
# Our tokens are well under 2 KiB; refusing larger input bounds the base64/JSON/RSA work an
# unauthenticated caller can make the authorizer do.
MAX_TOKEN_LENGTH = 8192

_STRING_CLAIMS = ("iss", "aud", "sub", "username", "token_type", "jti", "fam")
_TIME_CLAIMS = ("iat", "nbf", "exp")
REQUIRED_CLAIMS = (*_STRING_CLAIMS, *_TIME_CLAIMS, "scopes")


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class RejectReason(StrEnum):
    """Why a token was refused, as `InvalidToken.extra["reason"]`: callers never parse detail text."""

    MALFORMED = "malformed"
    ALG_NONE = "alg_none"
    ALG_NOT_ALLOWED = "alg_not_allowed"
    MISSING_KID = "missing_kid"
    UNKNOWN_KID = "unknown_kid"
    BAD_SIGNATURE = "bad_signature"
    BAD_ISSUER = "bad_issuer"
    BAD_AUDIENCE = "bad_audience"
    MISSING_CLAIM = "missing_claim"
    BAD_CLAIM = "bad_claim"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_TOKEN_TYPE = "wrong_token_type"


def _reject(reason: RejectReason, detail: str) -> InvalidToken:
    return InvalidToken(detail, extra={"reason": reason.value})


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenPair:
    """What login and refresh return; the session store records `refresh_jti` and `refresh_expires_at`."""

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_jti: str
    refresh_expires_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenClaims:
    """The verified claims common to both token types."""

    user_id: str
    username: str
    scopes: tuple[str, ...]
    jti: str
    family_id: str
    issued_at: int
    not_before: int
    expires_at: int
    kid: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessClaims(TokenClaims):
    """Claims of a verified access token (what the authorizer passes on)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshClaims(TokenClaims):
    """Claims of a verified refresh token (what the refresh route rotates)."""


def _new_token_id() -> str:
    return secrets.token_urlsafe(16)


class TokenIssuer:
    """Mints PS256 access/refresh pairs with the key ring's current signing key."""

    def __init__(
        self,
        keyring: KeyRing,
        issuer: str,
        audience: str,
        access_ttl: int = ACCESS_TTL_SECONDS,
        refresh_ttl: int = REFRESH_TTL_SECONDS,
        *,
        new_id: Callable[[], str] = _new_token_id,
    ) -> None:
        if access_ttl <= 0 or refresh_ttl <= 0:
            raise ValueError("token TTLs must be positive")
        if not issuer or not audience:
            raise ValueError("issuer and audience must be non-empty")
        # Read once so a ring without a private key fails at cold start, not on the first login.
        self._signing_key = keyring.signing_key
        self._issuer = issuer
        self._audience = audience
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl
        self._new_id = new_id

    def mint_pair(
        self, *, user_id: str, username: str, scopes: Iterable[str], family_id: str, now: int
    ) -> TokenPair:
        common: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user_id,
            "username": username,
            "scopes": list(scopes),
            # Access tokens carry the family too, so the authorizer can refuse them once logout or
            # refresh-token reuse revokes the family, without waiting for their 15 minutes to run out.
            "fam": family_id,
            "iat": now,
            "nbf": now,
        }
        refresh_jti = self._new_id()
        refresh_expires_at = now + self._refresh_ttl
        access = {**common, "token_type": TokenType.ACCESS.value, "jti": self._new_id()}
        access["exp"] = now + self._access_ttl
        refresh = {**common, "token_type": TokenType.REFRESH.value, "jti": refresh_jti}
        refresh["exp"] = refresh_expires_at
        return TokenPair(
            access_token=self._sign(access),
            refresh_token=self._sign(refresh),
            expires_in=self._access_ttl,
            refresh_jti=refresh_jti,
            refresh_expires_at=refresh_expires_at,
        )

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims,
            self._signing_key.private_key,
            algorithm=ALGORITHM,
            headers={"kid": self._signing_key.kid, "typ": "JWT"},
        )


_Claims = TypeVar("_Claims", bound=TokenClaims)


class TokenVerifier:
    """Verifies tokens against the key ring, the expected issuer/audience and a caller-supplied clock.

    PyJWT reads the wall clock itself and takes no "now" (checked against PyJWT 2.15), so its exp/nbf/iat
    checks are switched off and done here against `now`, which keeps time a parameter tests control.
    """

    def __init__(self, keyring: KeyRing, issuer: str, audience: str, leeway: int = LEEWAY_SECONDS) -> None:
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        self._keyring = keyring
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway

    def verify_access(self, token: str, now: int) -> AccessClaims:
        return self._verify(token, now, TokenType.ACCESS, AccessClaims)

    def verify_refresh(self, token: str, now: int) -> RefreshClaims:
        return self._verify(token, now, TokenType.REFRESH, RefreshClaims)

    def _verify(self, token: str, now: int, expected: TokenType, claims_type: type[_Claims]) -> _Claims:
        key = self._check_header(token)
        payload = self._decode(token, key)
        _check_shapes(payload)
        self._check_times(payload, now)
        if payload["token_type"] != expected.value:
            raise _reject(
                RejectReason.WRONG_TOKEN_TYPE,
                f"wrong token type: expected {expected.value}, got {payload['token_type']}",
            )
        return claims_type(
            user_id=payload["sub"],
            username=payload["username"],
            scopes=tuple(payload["scopes"]),
            jti=payload["jti"],
            family_id=payload["fam"],
            issued_at=payload["iat"],
            not_before=payload["nbf"],
            expires_at=payload["exp"],
            kid=key.kid,
        )

    def _check_header(self, token: str) -> VerificationKey:
        """Refuse on the header alone, before any signature work: algorithm first, then the key id."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise _reject(RejectReason.MALFORMED, "malformed token: empty or too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _reject(RejectReason.MALFORMED, f"malformed token: {exc}") from exc
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise _reject(RejectReason.MALFORMED, "malformed token: header has no alg")
        if alg.lower() == "none":
            raise _reject(RejectReason.ALG_NONE, "unsigned token (alg none) refused")
        # Checked here rather than left to PyJWT alone: the allow-list is ours, one fixed value, never
        # derived from the token (RFC 8725 §2.1), which is what defeats HS256-with-the-public-key forgery.
        if alg != ALGORITHM:
            raise _reject(
                RejectReason.ALG_NOT_ALLOWED, f"algorithm {alg} refused: only {ALGORITHM} is accepted"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _reject(RejectReason.MISSING_KID, "token header has no kid")
        key = self._keyring.get(kid)
        if key is None:
            raise _reject(RejectReason.UNKNOWN_KID, f"unknown signing key id {kid!r}")
        return key

    def _decode(self, token: str, key: VerificationKey) -> dict[str, Any]:
        kid = key.kid
        try:
            return jwt.decode(
                token,
                key.public_key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "strict_aud": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError as exc:
            raise _reject(RejectReason.BAD_SIGNATURE, f"signature does not verify with key {kid!r}") from exc
        except jwt.InvalidIssuerError as exc:
            raise _reject(RejectReason.BAD_ISSUER, f"issuer is not {self._issuer}") from exc
        except jwt.InvalidAudienceError as exc:
            raise _reject(RejectReason.BAD_AUDIENCE, f"audience is not {self._audience}") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise _reject(RejectReason.MISSING_CLAIM, f"missing claim: {exc.claim}") from exc
        except jwt.DecodeError as exc:
            raise _reject(RejectReason.MALFORMED, f"malformed token: {exc}") from exc
        except jwt.InvalidTokenError as exc:
            raise _reject(RejectReason.BAD_CLAIM, f"invalid claim: {exc}") from exc

    def _check_times(self, payload: Mapping[str, Any], now: int) -> None:
        if payload["exp"] <= now - self._leeway:
            raise _reject(RejectReason.EXPIRED, f"token expired at {payload['exp']}")
        if payload["nbf"] > now + self._leeway:
            raise _reject(RejectReason.NOT_YET_VALID, f"token not valid before {payload['nbf']}")
        if payload["iat"] > now + self._leeway:
            raise _reject(RejectReason.NOT_YET_VALID, f"token issued in the future at {payload['iat']}")


def _check_shapes(payload: Mapping[str, Any]) -> None:
    for name in _STRING_CLAIMS:
        value = payload[name]
        if not isinstance(value, str) or not value:
            raise _reject(RejectReason.BAD_CLAIM, f"claim {name} must be a non-empty string")
    for name in _TIME_CLAIMS:
        value = payload[name]
        # bool is an int subclass; a `true` exp would otherwise read as 1970-01-01T00:00:01.
        if not isinstance(value, int) or isinstance(value, bool):
            raise _reject(RejectReason.BAD_CLAIM, f"claim {name} must be an integer")
    scopes = payload["scopes"]
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
        raise _reject(RejectReason.BAD_CLAIM, "claim scopes must be a list of strings")
