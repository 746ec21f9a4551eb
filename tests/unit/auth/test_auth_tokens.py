"""Minting and verifying PS256 tokens: the claims we issue and every way a token is refused."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tradestream.auth import (
    AccessClaims,
    KeyRing,
    RefreshClaims,
    RejectReason,
    SigningKey,
    TokenIssuer,
    TokenVerifier,
    VerificationKey,
)
from tradestream.auth.tokens import MAX_TOKEN_LENGTH, REQUIRED_CLAIMS
from tradestream.errors import InvalidToken

ISSUER = "https://auth.tradestream.local"
AUDIENCE = "tradestream-api"
NOW = 1_800_000_000
LEEWAY = 60
ACCESS_TTL = 900
REFRESH_TTL = 30 * 24 * 3600


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _segment(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "username": "alice",
        "token_type": "access",
        "jti": "jti-1",
        "fam": "fam-1",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + ACCESS_TTL,
        "scopes": ["orders:write"],
    }
    claims.update(overrides)
    return claims


@functools.cache
def _private_key(private_pem: str) -> rsa.RSAPrivateKey:
    # Loading a PEM validates the RSA key, tens of milliseconds each; the suite signs with three keys.
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _sign(claims: dict[str, Any], private_pem: str, *, kid: str | None, alg: str = "PS256") -> str:
    """A token signed exactly as given: how a test builds what our issuer never would."""
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims, _private_key(private_pem), algorithm=alg, headers=headers)


def _counter() -> Callable[[], str]:
    ids = iter(f"id-{n}" for n in range(1_000))
    return lambda: next(ids)


@pytest.fixture(scope="module")
def ring(current_pems: tuple[str, str], previous_pems: tuple[str, str]) -> KeyRing:
    return KeyRing.from_pems(private_pem=current_pems[0], public_pems=[previous_pems[1]])


@pytest.fixture(scope="module")
def kid(ring: KeyRing) -> str:
    return ring.signing_key.kid


@pytest.fixture
def issuer(ring: KeyRing) -> TokenIssuer:
    return TokenIssuer(ring, ISSUER, AUDIENCE, new_id=_counter())


@pytest.fixture(scope="module")
def verifier(current_pems: tuple[str, str], previous_pems: tuple[str, str]) -> TokenVerifier:
    # The authorizer's view: public keys only.
    return TokenVerifier(KeyRing.from_pems(public_pems=[current_pems[1], previous_pems[1]]), ISSUER, AUDIENCE)


def _mint(issuer: TokenIssuer, now: int = NOW) -> tuple[str, str]:
    pair = issuer.mint_pair(
        user_id="user-1", username="alice", scopes=["orders:write"], family_id="fam-1", now=now
    )
    return pair.access_token, pair.refresh_token


def _refused(verify: Callable[[], object], reason: RejectReason) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        verify()
    assert caught.value.extra == {"reason": reason.value}, caught.value.detail
    assert (caught.value.status, caught.value.code) == (401, "INVALID_TOKEN")
    return caught.value


# --- what we mint -------------------------------------------------------------------------------------


def test_mint_pair_returns_ttls_and_the_refresh_jti(issuer: TokenIssuer) -> None:
    pair = issuer.mint_pair(user_id="user-1", username="alice", scopes=["a"], family_id="fam-1", now=NOW)
    assert pair.expires_in == ACCESS_TTL
    assert pair.refresh_expires_at == NOW + REFRESH_TTL
    assert pair.refresh_jti == jwt.decode(pair.refresh_token, options={"verify_signature": False})["jti"]


def test_both_tokens_carry_exactly_the_agreed_claims_and_header(issuer: TokenIssuer, kid: str) -> None:
    access, refresh = _mint(issuer)
    for token, token_type, ttl in ((access, "access", ACCESS_TTL), (refresh, "refresh", REFRESH_TTL)):
        header = jwt.get_unverified_header(token)
        assert (header["alg"], header["kid"]) == ("PS256", kid)
        payload = jwt.decode(token, options={"verify_signature": False})
        assert set(payload) == set(REQUIRED_CLAIMS)
        assert payload["token_type"] == token_type
        assert payload["fam"] == "fam-1"
        assert (payload["iat"], payload["nbf"], payload["exp"]) == (NOW, NOW, NOW + ttl)
        assert (payload["iss"], payload["aud"], payload["sub"]) == (ISSUER, AUDIENCE, "user-1")


def test_every_token_gets_its_own_random_jti(ring: KeyRing) -> None:
    default_ids = TokenIssuer(ring, ISSUER, AUDIENCE)
    tokens = [*_mint(default_ids), *_mint(default_ids)]
    jtis = {jwt.decode(token, options={"verify_signature": False})["jti"] for token in tokens}
    assert len(jtis) == 4


def test_access_token_verifies_into_access_claims(
    issuer: TokenIssuer, verifier: TokenVerifier, kid: str
) -> None:
    access, _ = _mint(issuer)
    assert verifier.verify_access(access, NOW + 10) == AccessClaims(
        user_id="user-1",
        username="alice",
        scopes=("orders:write",),
        jti="id-1",
        family_id="fam-1",
        issued_at=NOW,
        not_before=NOW,
        expires_at=NOW + ACCESS_TTL,
        kid=kid,
    )


def test_refresh_token_verifies_into_refresh_claims(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    _, refresh = _mint(issuer)
    claims = verifier.verify_refresh(refresh, NOW + REFRESH_TTL - 1)
    assert isinstance(claims, RefreshClaims)
    assert (claims.jti, claims.family_id, claims.user_id) == ("id-0", "fam-1", "user-1")


# --- time ---------------------------------------------------------------------------------------------


def test_expiry_allows_exactly_the_leeway(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    access, refresh = _mint(issuer)
    verifier.verify_access(access, NOW + ACCESS_TTL + LEEWAY - 1)
    error = _refused(lambda: verifier.verify_access(access, NOW + ACCESS_TTL + LEEWAY), RejectReason.EXPIRED)
    assert error.detail == f"token expired at {NOW + ACCESS_TTL}"
    verifier.verify_refresh(refresh, NOW + REFRESH_TTL + LEEWAY - 1)
    _refused(lambda: verifier.verify_refresh(refresh, NOW + REFRESH_TTL + LEEWAY), RejectReason.EXPIRED)


def test_not_before_allows_exactly_the_leeway(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    access, _ = _mint(issuer, now=NOW + LEEWAY)
    verifier.verify_access(access, NOW)
    early, _ = _mint(issuer, now=NOW + LEEWAY + 1)
    error = _refused(lambda: verifier.verify_access(early, NOW), RejectReason.NOT_YET_VALID)
    assert error.detail == f"token not valid before {NOW + LEEWAY + 1}"


def test_issued_in_the_future_is_refused(
    current_pems: tuple[str, str], kid: str, verifier: TokenVerifier
) -> None:
    token = _sign(_claims(iat=NOW + LEEWAY + 1), current_pems[0], kid=kid)
    error = _refused(lambda: verifier.verify_access(token, NOW), RejectReason.NOT_YET_VALID)
    assert error.detail == f"token issued in the future at {NOW + LEEWAY + 1}"


def test_the_verifier_judges_time_by_the_clock_it_is_given(
    issuer: TokenIssuer, verifier: TokenVerifier
) -> None:
    # Minted in 1970: only the explicit `now` can make it valid, so a wall-clock check would refuse it.
    access, _ = _mint(issuer, now=1_000)
    assert verifier.verify_access(access, 1_100).issued_at == 1_000


# --- keys and signatures ------------------------------------------------------------------------------


def test_token_signed_by_another_key_under_our_kid_is_refused(
    attacker_pems: tuple[str, str], kid: str, verifier: TokenVerifier
) -> None:
    forged = _sign(_claims(), attacker_pems[0], kid=kid)
    error = _refused(lambda: verifier.verify_access(forged, NOW), RejectReason.BAD_SIGNATURE)
    assert error.detail == f"signature does not verify with key {kid!r}"


def test_token_signed_by_another_key_under_its_own_kid_is_refused(
    attacker_pems: tuple[str, str], verifier: TokenVerifier
) -> None:
    attacker_kid = VerificationKey.from_pem(attacker_pems[1]).kid
    forged = _sign(_claims(), attacker_pems[0], kid=attacker_kid)
    error = _refused(lambda: verifier.verify_access(forged, NOW), RejectReason.UNKNOWN_KID)
    assert error.detail == f"unknown signing key id {attacker_kid!r}"


def test_a_key_embedded_in_the_header_is_never_trusted(
    attacker_pems: tuple[str, str], kid: str, verifier: TokenVerifier
) -> None:
    attacker_jwk = KeyRing.from_pems(public_pems=[attacker_pems[1]]).jwks()["keys"][0]
    forged = jwt.encode(
        _claims(), attacker_pems[0], algorithm="PS256", headers={"kid": kid, "jwk": attacker_jwk}
    )
    _refused(lambda: verifier.verify_access(forged, NOW), RejectReason.BAD_SIGNATURE)


def test_a_tampered_payload_is_refused(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    access, _ = _mint(issuer)
    header, _, signature = access.split(".")
    tampered = f"{header}.{_segment(_claims(sub='user-2'))}.{signature}"
    _refused(lambda: verifier.verify_access(tampered, NOW), RejectReason.BAD_SIGNATURE)


def test_missing_kid_is_refused(current_pems: tuple[str, str], verifier: TokenVerifier) -> None:
    token = _sign(_claims(), current_pems[0], kid=None)
    error = _refused(lambda: verifier.verify_access(token, NOW), RejectReason.MISSING_KID)
    assert error.detail == "token header has no kid"


def test_previous_key_verifies_while_published_and_not_after_removal(
    current_pems: tuple[str, str], previous_pems: tuple[str, str]
) -> None:
    before_rotation = TokenIssuer(
        KeyRing(signing_key=SigningKey.from_pem(previous_pems[0])), ISSUER, AUDIENCE
    )
    access, _ = _mint(before_rotation)

    after_rotation = KeyRing.from_pems(private_pem=current_pems[0], public_pems=[previous_pems[1]])
    assert TokenVerifier(after_rotation, ISSUER, AUDIENCE).verify_access(access, NOW).user_id == "user-1"

    previous_retired = TokenVerifier(KeyRing.from_pems(public_pems=[current_pems[1]]), ISSUER, AUDIENCE)
    _refused(lambda: previous_retired.verify_access(access, NOW), RejectReason.UNKNOWN_KID)


# --- algorithms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_unsigned_tokens_are_refused(alg: str, kid: str, verifier: TokenVerifier) -> None:
    token = f"{_segment({'alg': alg, 'typ': 'JWT', 'kid': kid})}.{_segment(_claims())}."
    error = _refused(lambda: verifier.verify_access(token, NOW), RejectReason.ALG_NONE)
    assert error.detail == "unsigned token (alg none) refused"


def test_hs256_signed_with_the_public_key_as_secret_is_refused(
    current_pems: tuple[str, str], kid: str, verifier: TokenVerifier
) -> None:
    # The classic key-confusion forgery: anyone can fetch the public PEM and HMAC with it.
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_segment(_claims())}"
    mac = hmac.new(current_pems[1].encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{_b64url(mac)}"
    error = _refused(lambda: verifier.verify_access(forged, NOW), RejectReason.ALG_NOT_ALLOWED)
    assert error.detail == "algorithm HS256 refused: only PS256 is accepted"


@pytest.mark.parametrize("alg", ["RS256", "PS512", "RS512"])
def test_other_rsa_algorithms_are_refused_even_with_our_own_key(
    alg: str, current_pems: tuple[str, str], kid: str, verifier: TokenVerifier
) -> None:
    token = _sign(_claims(), current_pems[0], kid=kid, alg=alg)
    error = _refused(lambda: verifier.verify_access(token, NOW), RejectReason.ALG_NOT_ALLOWED)
    assert error.detail == f"algorithm {alg} refused: only PS256 is accepted"


# --- issuer, audience, token type ---------------------------------------------------------------------


@pytest.mark.parametrize("iss", ["https://evil.example", ISSUER[:-1], ISSUER + "/", ""])
def test_wrong_issuer_is_refused(
    iss: str, current_pems: tuple[str, str], kid: str, verifier: TokenVerifier
) -> None:
    # ISSUER[:-1] is a substring of ours: it catches a containment test standing in for equality.
    token = _sign(_claims(iss=iss), current_pems[0], kid=kid)
    _refused(lambda: verifier.verify_access(token, NOW), RejectReason.BAD_ISSUER)


def test_a_verifier_for_another_issuer_refuses_our_tokens(issuer: TokenIssuer, ring: KeyRing) -> None:
    access, _ = _mint(issuer)
    other = TokenVerifier(ring, "https://other-issuer.example", AUDIENCE)
    error = _refused(lambda: other.verify_access(access, NOW), RejectReason.BAD_ISSUER)
    assert error.detail == "issuer is not https://other-issuer.example"


@pytest.mark.parametrize("aud", ["another-api", [AUDIENCE], [AUDIENCE, "another-api"], AUDIENCE.upper()])
def test_wrong_audience_is_refused(
    aud: str | list[str], current_pems: tuple[str, str], kid: str, verifier: TokenVerifier
) -> None:
    token = _sign(_claims(aud=aud), current_pems[0], kid=kid)
    _refused(lambda: verifier.verify_access(token, NOW), RejectReason.BAD_AUDIENCE)


def test_a_verifier_for_another_audience_refuses_our_tokens(issuer: TokenIssuer, ring: KeyRing) -> None:
    access, _ = _mint(issuer)
    other = TokenVerifier(ring, ISSUER, "another-api")
    error = _refused(lambda: other.verify_access(access, NOW), RejectReason.BAD_AUDIENCE)
    assert error.detail == "audience is not another-api"


def test_refresh_token_used_as_access_is_refused(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    _, refresh = _mint(issuer)
    error = _refused(lambda: verifier.verify_access(refresh, NOW), RejectReason.WRONG_TOKEN_TYPE)
    assert error.detail == "wrong token type: expected access, got refresh"


def test_access_token_used_as_refresh_is_refused(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    access, _ = _mint(issuer)
    error = _refused(lambda: verifier.verify_refresh(access, NOW), RejectReason.WRONG_TOKEN_TYPE)
    assert error.detail == "wrong token type: expected refresh, got access"


# --- claims and shape ---------------------------------------------------------------------------------


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_each_missing_claim_is_refused(
    claim: str, current_pems: tuple[str, str], kid: str, verifier: TokenVerifier
) -> None:
    claims = _claims()
    del claims[claim]
    token = _sign(claims, current_pems[0], kid=kid)
    error = _refused(lambda: verifier.verify_access(token, NOW), RejectReason.MISSING_CLAIM)
    assert error.detail == f"missing claim: {claim}"


@pytest.mark.parametrize(
    "override",
    [
        {"sub": ""},
        {"sub": 42},
        {"username": ""},
        {"fam": ["fam-1"]},
        {"jti": 7},
        {"token_type": 1},
        {"exp": str(NOW + 900)},
        {"exp": float(NOW + 900)},
        {"nbf": True},
        {"scopes": "orders:write"},
        {"scopes": ["orders:write", 3]},
    ],
    ids=repr,
)
def test_ill_typed_claims_are_refused(
    override: dict[str, Any], current_pems: tuple[str, str], kid: str, verifier: TokenVerifier
) -> None:
    token = _sign(_claims(**override), current_pems[0], kid=kid)
    _refused(lambda: verifier.verify_access(token, NOW), RejectReason.BAD_CLAIM)


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "!!!.###.$$$", "eyJhbGciOiJQUzI1NiJ9", "x" * (MAX_TOKEN_LENGTH + 1)],
    ids=["empty", "one-part", "junk-parts", "non-base64", "header-only", "too-long"],
)
def test_malformed_tokens_are_refused(token: str, verifier: TokenVerifier) -> None:
    _refused(lambda: verifier.verify_access(token, NOW), RejectReason.MALFORMED)


def test_a_header_without_alg_is_malformed(kid: str, verifier: TokenVerifier) -> None:
    token = f"{_segment({'typ': 'JWT', 'kid': kid})}.{_segment(_claims())}.c2ln"
    error = _refused(lambda: verifier.verify_access(token, NOW), RejectReason.MALFORMED)
    assert error.detail == "malformed token: header has no alg"


def test_configuration_is_checked_up_front(ring: KeyRing) -> None:
    with pytest.raises(ValueError, match="TTLs"):
        TokenIssuer(ring, ISSUER, AUDIENCE, access_ttl=0)
    with pytest.raises(ValueError, match="non-empty"):
        TokenIssuer(ring, "", AUDIENCE)
    with pytest.raises(ValueError, match="leeway"):
        TokenVerifier(ring, ISSUER, AUDIENCE, leeway=-1)
