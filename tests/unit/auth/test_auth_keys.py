"""Key loading, RFC 7638 kids, the key ring's consistency rules and the JWKS document."""

from __future__ import annotations

import base64
import inspect

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.types import Options

from tradestream.auth import (
    KeyConfigError,
    KeyRing,
    SigningKey,
    TokenIssuer,
    VerificationKey,
    generate_dev_keypair,
    jwk_thumbprint,
)

# RFC 7638 §3.1 worked example: this modulus with e=AQAB has the thumbprint below.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknj"
    "hMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQ"
    "vRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def _b64url_to_int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def _rfc7638_key() -> rsa.RSAPublicKey:
    return rsa.RSAPublicNumbers(e=65537, n=_b64url_to_int(RFC7638_N)).public_key()


def _pem(public_key: rsa.RSAPublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return raw.decode("ascii")


def test_thumbprint_matches_the_rfc7638_worked_example() -> None:
    assert jwk_thumbprint(_rfc7638_key()) == RFC7638_THUMBPRINT


def test_kid_defaults_to_the_thumbprint_for_public_and_private_keys(current_pems: tuple[str, str]) -> None:
    private_pem, public_pem = current_pems
    assert VerificationKey.from_pem(_pem(_rfc7638_key())).kid == RFC7638_THUMBPRINT
    signing = SigningKey.from_pem(private_pem)
    assert signing.kid == VerificationKey.from_pem(public_pem).kid
    assert signing.kid == jwk_thumbprint(signing.private_key.public_key())


def test_explicit_kids_are_kept(current_pems: tuple[str, str], previous_pems: tuple[str, str]) -> None:
    ring = KeyRing.from_pems(
        private_pem=current_pems[0], private_kid="2026-11", public_pems=[("2026-05", previous_pems[1])]
    )
    assert ring.kids == ("2026-11", "2026-05")
    assert ring.signing_key.kid == "2026-11"


def test_jwks_lists_every_public_key_current_first_with_the_exact_members(
    current_pems: tuple[str, str], previous_pems: tuple[str, str]
) -> None:
    ring = KeyRing.from_pems(private_pem=current_pems[0], public_pems=[previous_pems[1]])
    document = ring.jwks()

    assert list(document) == ["keys"]
    keys = document["keys"]
    assert [key["kid"] for key in keys] == [
        ring.signing_key.kid,
        VerificationKey.from_pem(previous_pems[1]).kid,
    ]
    for key, pem in zip(keys, (current_pems[1], previous_pems[1]), strict=True):
        assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}  # and so no private member (d, p, q...)
        assert (key["kty"], key["alg"], key["use"], key["e"]) == ("RSA", "PS256", "sig", "AQAB")
        loaded = serialization.load_pem_public_key(pem.encode())
        assert isinstance(loaded, rsa.RSAPublicKey)
        assert _b64url_to_int(key["n"]) == loaded.public_numbers().n
        assert "=" not in key["n"]


def test_a_standard_client_verifies_our_tokens_from_the_jwks_alone(current_pems: tuple[str, str]) -> None:
    ring = KeyRing.from_pems(private_pem=current_pems[0])
    pair = TokenIssuer(ring, "iss", "aud").mint_pair(
        user_id="u1", username="alice", scopes=[], family_id="f1", now=2_000_000_000
    )
    jwk = jwt.PyJWK(ring.jwks()["keys"][0])
    # Only the signature and audience matter here; PyJWT would judge the times by the wall clock.
    wall_clock_free: Options = {"verify_exp": False, "verify_nbf": False, "verify_iat": False}
    claims = jwt.decode(pair.access_token, jwk, algorithms=["PS256"], audience="aud", options=wall_clock_free)
    assert claims["sub"] == "u1"


def test_a_public_only_ring_verifies_but_cannot_sign(current_pems: tuple[str, str]) -> None:
    ring = KeyRing.from_pems(public_pems=[current_pems[1]])
    assert not ring.can_sign
    with pytest.raises(KeyConfigError, match="can only verify"):
        _ = ring.signing_key
    with pytest.raises(KeyConfigError):
        TokenIssuer(ring, "iss", "aud")


def test_one_kid_for_two_different_keys_is_refused(
    current_pems: tuple[str, str], previous_pems: tuple[str, str]
) -> None:
    with pytest.raises(KeyConfigError, match="two different keys"):
        KeyRing.from_pems(
            private_pem=current_pems[0], private_kid="k1", public_pems=[("k1", previous_pems[1])]
        )


def test_the_same_key_listed_twice_is_one_entry(current_pems: tuple[str, str]) -> None:
    ring = KeyRing.from_pems(private_pem=current_pems[0], public_pems=[current_pems[1]])
    assert len(ring.kids) == 1


def test_an_empty_ring_is_refused() -> None:
    with pytest.raises(KeyConfigError, match="at least one key"):
        KeyRing()


def test_keys_below_2048_bits_are_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    private_pem = small.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(KeyConfigError, match="too small"):
        SigningKey.from_pem(private_pem)
    with pytest.raises(KeyConfigError, match="too small"):
        VerificationKey.from_pem(_pem(small.public_key()))


def test_non_rsa_and_garbage_pems_are_refused() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_private = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    ec_public = (
        ec_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(KeyConfigError, match="not an RSA key"):
        SigningKey.from_pem(ec_private)
    with pytest.raises(KeyConfigError, match="not an RSA key"):
        VerificationKey.from_pem(ec_public)
    with pytest.raises(KeyConfigError, match="cannot load"):
        SigningKey.from_pem("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyConfigError, match="cannot load"):
        VerificationKey.from_pem("not a pem")


def test_empty_kid_is_refused(current_pems: tuple[str, str]) -> None:
    with pytest.raises(KeyConfigError, match="kid"):
        VerificationKey.from_pem(current_pems[1], kid="")


def test_dev_keypair_is_a_matching_pkcs8_and_spki_pair(current_pems: tuple[str, str]) -> None:
    private_pem, public_pem = current_pems
    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert SigningKey.from_pem(private_pem).private_key.key_size == 2048
    assert SigningKey.from_pem(private_pem).kid == VerificationKey.from_pem(public_pem).kid
    # Production's dev key size is the default; generating one here would cost a second for nothing.
    assert inspect.signature(generate_dev_keypair).parameters["bits"].default == 3072


def test_private_keys_stay_out_of_reprs(current_pems: tuple[str, str]) -> None:
    signing = SigningKey.from_pem(current_pems[0])
    assert "private_key" not in repr(signing)
