"""RSA keys for PS256 tokens: the signing key, the verification key ring with rotation, and its JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM = "PS256"
# RFC 7518 §3.5 requires 2048-bit moduli for PS256; smaller keys are refused at load time.
MIN_KEY_BITS = 2048
DEV_KEY_BITS = 3072

Jwk = dict[str, str]
Jwks = dict[str, list[Jwk]]


class KeyConfigError(Exception):
    """A key could not be loaded or the ring is inconsistent: a deployment fault, never a client's error."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_uint(value: int) -> str:
    return _b64url(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _public_members(public_key: rsa.RSAPublicKey) -> Jwk:
    numbers = public_key.public_numbers()
    return {"kty": "RSA", "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}


def jwk_thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 SHA-256 thumbprint of an RSA public key, base64url without padding."""
    # §3.2: only the required members, sorted, no whitespace, so every implementation hashes the same bytes.
    canonical = json.dumps(_public_members(public_key), sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def _check_size(bits: int) -> None:
    if bits < MIN_KEY_BITS:
        raise KeyConfigError(f"RSA key of {bits} bits is too small for PS256 (minimum {MIN_KEY_BITS})")


def _check_kid(kid: str) -> str:
    if not kid or not kid.isprintable() or len(kid) > 128:
        raise KeyConfigError("kid must be 1-128 printable characters")
    return kid


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A trusted RSA public key and the `kid` tokens name it by."""

    kid: str
    public_key: rsa.RSAPublicKey = field(repr=False)

    @classmethod
    def from_pem(cls, public_pem: str, *, kid: str | None = None) -> VerificationKey:
        try:
            key = serialization.load_pem_public_key(public_pem.encode("utf-8"))
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyConfigError(f"cannot load public key PEM: {exc}") from exc
        if not isinstance(key, rsa.RSAPublicKey):
            raise KeyConfigError("public key PEM is not an RSA key")
        _check_size(key.key_size)
        return cls(_check_kid(kid) if kid is not None else jwk_thumbprint(key), key)

    def to_jwk(self) -> Jwk:
        return {**_public_members(self.public_key), "kid": self.kid, "alg": ALGORITHM, "use": "sig"}


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The current RSA private key and its `kid`; only the token-minting function holds one."""

    kid: str
    private_key: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def from_pem(cls, private_pem: str, *, kid: str | None = None) -> SigningKey:
        try:
            key = serialization.load_pem_private_key(private_pem.encode("utf-8"), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            # The message of a failed private-key load never echoes key material.
            raise KeyConfigError(f"cannot load private key PEM: {exc}") from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyConfigError("private key PEM is not an RSA key")
        _check_size(key.key_size)
        return cls(_check_kid(kid) if kid is not None else jwk_thumbprint(key.public_key()), key)

    def verification_key(self) -> VerificationKey:
        return VerificationKey(self.kid, self.private_key.public_key())


class KeyRing:
    """The signing key (if this function mints) plus every public key a token may be verified with.

    Rotation: publish the next key's public half, switch the signing key, and drop the previous
    public key only after the longest-lived token it signed (the refresh TTL) has expired.
    """

    __slots__ = ("_keys", "_signing_key")

    def __init__(
        self, *, signing_key: SigningKey | None = None, verification_keys: Iterable[VerificationKey] = ()
    ) -> None:
        # The current signing key always verifies, so a deployment cannot mint tokens it then refuses.
        candidates = [signing_key.verification_key()] if signing_key is not None else []
        candidates.extend(verification_keys)
        keys: dict[str, VerificationKey] = {}
        for key in candidates:
            known = keys.setdefault(key.kid, key)
            if known.public_key.public_numbers() != key.public_key.public_numbers():
                raise KeyConfigError(f"kid {key.kid!r} names two different keys")
        if not keys:
            raise KeyConfigError("a key ring needs at least one key")
        self._signing_key = signing_key
        self._keys = keys

    @classmethod
    def from_pems(
        cls,
        *,
        private_pem: str | None = None,
        private_kid: str | None = None,
        public_pems: Iterable[str | tuple[str, str]] = (),
    ) -> KeyRing:
        """Build a ring from PEM strings; each public entry is a PEM (kid = thumbprint) or `(kid, pem)`."""
        signing = SigningKey.from_pem(private_pem, kid=private_kid) if private_pem is not None else None
        verification = [
            VerificationKey.from_pem(entry)
            if isinstance(entry, str)
            else VerificationKey.from_pem(entry[1], kid=entry[0])
            for entry in public_pems
        ]
        return cls(signing_key=signing, verification_keys=verification)

    @property
    def can_sign(self) -> bool:
        return self._signing_key is not None

    @property
    def signing_key(self) -> SigningKey:
        if self._signing_key is None:
            raise KeyConfigError("this key ring holds no private key and can only verify")
        return self._signing_key

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def get(self, kid: str) -> VerificationKey | None:
        return self._keys.get(kid)

    def jwks(self) -> Jwks:
        """The JWKS document served at /.well-known/jwks.json: every public key, current first."""
        return {"keys": [key.to_jwk() for key in self._keys.values()]}


def generate_dev_keypair(bits: int = DEV_KEY_BITS) -> tuple[str, str]:
    """A fresh RSA key pair as (PKCS#8 private PEM, SPKI public PEM) for local runs and tests."""
    _check_size(bits)
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem.decode("ascii"), public_pem.decode("ascii")
