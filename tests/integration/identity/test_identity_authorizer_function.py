"""The REQUEST authorizer in-process on moto: Allow for a live PS256 access token, refuse every forgery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from aws_lambda_powertools.utilities import parameters
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from localcloud.resources import LocalResources, client
from tests.events import authorizer_event, rest_event
from tests.integration.conftest import SIGNING_KEY_PARAMETER
from tests.integration.identity.conftest import PASSWORD, ColdStart, Function
from tradestream.auth import generate_dev_keypair
from tradestream.observability import logger

ARN_PREFIX = "arn:aws:execute-api:us-east-1:123456789012:tsapi12345/local"
Claims = dict[str, Any]


@pytest.fixture(scope="module")
def other_key() -> tuple[str, str]:
    """A well-formed RSA key the deployment does not trust."""
    return generate_dev_keypair(2048)


def _private(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _sign(claims: Claims, private_pem: str, *, kid: str | None, alg: str = "PS256") -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims, _private(private_pem), algorithm=alg, headers=headers)


def _unsigned(claims: Claims, kid: str) -> str:
    return f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_segment(claims)}."


def _hs256_with_public_key(claims: Claims, public_pem: str, kid: str) -> str:
    # The classic confusion attack: HMAC keyed with the published public key, hoping the verifier
    # picks the algorithm from the header and the key from the JWKS.
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_segment(claims)}"
    mac = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _tampered(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{_segment({**claims, **changes})}.{signature}"


def _invoke(
    authorizer: Function, authorization: str | None, *, method: str = "GET", path: str = "/api/me"
) -> Any:
    headers = {} if authorization is None else {"Authorization": authorization}
    return authorizer.raw(authorizer_event(method, path, headers=headers))


def _assert_unauthorized(authorizer: Function, authorization: str | None) -> None:
    with pytest.raises(Exception) as caught:
        _invoke(authorizer, authorization)
    # API Gateway answers 401 only for an Exception whose message is exactly "Unauthorized".
    assert type(caught.value) is Exception
    assert caught.value.args == ("Unauthorized",)


def _login(auth: Function, username: str) -> dict[str, Any]:
    credentials = {"username": username, "password": PASSWORD}
    assert auth(rest_event("POST", "/api/users/register", body=credentials)).status == 201
    reply = auth(rest_event("POST", "/api/auth/login", body=credentials))
    assert reply.status == 200, reply.body
    tokens: dict[str, Any] = reply.json()
    return tokens


def _session(auth: Function, username: str) -> dict[str, Any]:
    tokens = _login(auth, username)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    return {**tokens, "username": username, "claims": claims}


@pytest.fixture(scope="module")
def session(auth: Function) -> dict[str, Any]:
    """A logged-in user shared by the tests that only read it: the login response and the access claims."""
    return _session(auth, f"user_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def own_session(auth: Function, username: str) -> dict[str, Any]:
    """A logged-in user of this test alone, for tests that end the session."""
    return _session(auth, username)


def test_a_live_access_token_is_allowed_on_every_route_with_the_callers_context(
    authorizer: Function, session: dict[str, Any]
) -> None:
    policy = _invoke(authorizer, f"Bearer {session['access_token']}", method="POST", path="/api/auth/logout")

    assert policy == {
        "principalId": session["user_id"],
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                # The cached decision is reused for the same token on any route, so it must allow all.
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{ARN_PREFIX}/*/*"}
            ],
        },
        "context": {
            "userId": session["user_id"],
            "username": session["username"],
            "scopes": "orders:write orders:read portfolio:read",
        },
    }


def test_the_request_id_is_the_log_correlation_id(authorizer: Function, session: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {session['access_token']}", "X-Request-Id": "authz-7"}
    authorizer.raw(authorizer_event(headers=headers))
    assert logger.get_correlation_id() == "authz-7"

    _assert_unauthorized(authorizer, "Bearer junk")  # no client id: API Gateway's request id
    assert logger.get_correlation_id() not in (None, "authz-7")


def test_the_scheme_is_case_insensitive(authorizer: Function, session: dict[str, Any]) -> None:
    assert _invoke(authorizer, f"bearer {session['access_token']}")["principalId"] == session["user_id"]


def test_a_token_re_signed_unchanged_with_the_real_key_is_allowed(
    authorizer: Function, session: dict[str, Any], signing_key: dict[str, str]
) -> None:
    # The control for the forgeries below: each changes exactly one thing from this token.
    token = _sign(session["claims"], signing_key["privateKeyPem"], kid=signing_key["kid"])
    assert _invoke(authorizer, f"Bearer {token}")["principalId"] == session["user_id"]


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Token abc"]
)
def test_no_bearer_token_is_unauthorized(authorizer: Function, authorization: str | None) -> None:
    _assert_unauthorized(authorizer, authorization)


Forgery = Callable[[Claims, dict[str, str], tuple[str, str]], str]

FORGERIES: dict[str, Forgery] = {
    "alg none": lambda claims, key, _other: _unsigned(claims, key["kid"]),
    "HS256 keyed with the public key": lambda claims, key, _other: _hs256_with_public_key(
        claims, key["publicKeyPem"], key["kid"]
    ),
    "RS256 with the real key": lambda claims, key, _other: _sign(
        claims, key["privateKeyPem"], kid=key["kid"], alg="RS256"
    ),
    "wrong audience": lambda claims, key, _other: _sign(
        {**claims, "aud": "another-api"}, key["privateKeyPem"], kid=key["kid"]
    ),
    "wrong issuer": lambda claims, key, _other: _sign(
        {**claims, "iss": "https://evil.example"}, key["privateKeyPem"], kid=key["kid"]
    ),
    "expired past the 60 s skew": lambda claims, key, _other: _sign(
        {
            **claims,
            "iat": int(time.time()) - 1000,
            "nbf": int(time.time()) - 1000,
            "exp": int(time.time()) - 61,
        },
        key["privateKeyPem"],
        kid=key["kid"],
    ),
    "not valid for another 2 minutes": lambda claims, key, _other: _sign(
        {**claims, "nbf": int(time.time()) + 120}, key["privateKeyPem"], kid=key["kid"]
    ),
    "signed by another key under our kid": lambda claims, key, other: _sign(claims, other[0], kid=key["kid"]),
    "signed by another key under its own kid": lambda claims, _key, other: _sign(
        claims, other[0], kid="attacker"
    ),
    "no kid": lambda claims, key, _other: _sign(claims, key["privateKeyPem"], kid=None),
    "a refresh-typed claim set": lambda claims, key, _other: _sign(
        {**claims, "token_type": "refresh"}, key["privateKeyPem"], kid=key["kid"]
    ),
}


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_tokens_are_unauthorized(
    authorizer: Function,
    session: dict[str, Any],
    signing_key: dict[str, str],
    other_key: tuple[str, str],
    forgery: Forgery,
) -> None:
    _assert_unauthorized(authorizer, f"Bearer {forgery(session['claims'], signing_key, other_key)}")


def test_a_tampered_payload_is_unauthorized(authorizer: Function, session: dict[str, Any]) -> None:
    _assert_unauthorized(authorizer, f"Bearer {_tampered(session['access_token'], sub='someone-else')}")
    _assert_unauthorized(authorizer, f"Bearer {_tampered(session['access_token'], scopes=['admin'])}")


def test_a_refresh_token_is_unauthorized(authorizer: Function, session: dict[str, Any]) -> None:
    _assert_unauthorized(authorizer, f"Bearer {session['refresh_token']}")


def test_an_access_token_of_a_revoked_family_is_unauthorized(
    auth: Function, authorizer: Function, own_session: dict[str, Any]
) -> None:
    assert (
        _invoke(authorizer, f"Bearer {own_session['access_token']}")["principalId"] == own_session["user_id"]
    )
    caller = {"userId": own_session["user_id"], "username": own_session["username"], "scopes": ""}
    logout = rest_event(
        "POST", "/api/auth/logout", body={"refreshToken": own_session["refresh_token"]}, authorizer=caller
    )
    assert auth(logout).status == 204

    _assert_unauthorized(authorizer, f"Bearer {own_session['access_token']}")


# --- key rotation -----------------------------------------------------------------------------------


@pytest.fixture
def rotatable(
    identity_env: LocalResources, signing_key_document: str
) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Replace the key ring parameter mid-test; the original is restored afterwards."""
    ssm = client("ssm", identity_env.endpoint)

    def put(document: dict[str, Any]) -> None:
        ssm.put_parameter(
            Name=SIGNING_KEY_PARAMETER, Value=json.dumps(document), Type="SecureString", Overwrite=True
        )

    parameters.clear_caches()  # type: ignore[no-untyped-call]
    yield put
    ssm.put_parameter(
        Name=SIGNING_KEY_PARAMETER, Value=signing_key_document, Type="SecureString", Overwrite=True
    )
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def test_keys_rotate_without_logging_anyone_out(
    cold_start: ColdStart,
    rotatable: Callable[[dict[str, Any]], None],
    signing_key: dict[str, str],
    other_key: tuple[str, str],
    username: str,
) -> None:
    # Warm containers that re-read the key ring parameter on every invocation (cache 0 s).
    auth = cold_start("AuthFunction", SIGNING_KEY_CACHE_SECONDS="0")
    authorizer = cold_start("AuthorizerFunction", SIGNING_KEY_CACHE_SECONDS="0")
    before = _login(auth, username)
    old = {"kid": signing_key["kid"], "publicKeyPem": signing_key["publicKeyPem"]}
    new = {"kid": "test-key-2", "privateKeyPem": other_key[0], "publicKeyPem": other_key[1]}

    # Step 1 of a rotation: the new key signs, the old one stays published for verification.
    rotatable({"current": new, "previous": [old]})
    refreshed = auth(rest_event("POST", "/api/auth/refresh", body={"refreshToken": before["refresh_token"]}))

    assert refreshed.status == 200, refreshed.body
    after = refreshed.json()
    assert jwt.get_unverified_header(after["access_token"])["kid"] == "test-key-2"
    assert [key["kid"] for key in auth(rest_event("GET", "/.well-known/jwks.json")).json()["keys"]] == [
        "test-key-2",
        signing_key["kid"],
    ]
    assert _invoke(authorizer, f"Bearer {after['access_token']}")["principalId"] == after["user_id"]
    assert _invoke(authorizer, f"Bearer {before['access_token']}")["principalId"] == before["user_id"]

    # Step 2, once every old token has expired: the old key is dropped and no longer verifies.
    rotatable({"current": new, "previous": []})
    _assert_unauthorized(authorizer, f"Bearer {before['access_token']}")
    assert _invoke(authorizer, f"Bearer {after['access_token']}")["principalId"] == after["user_id"]
