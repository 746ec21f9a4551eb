"""Issue 3 over HTTP against the local cloud: every route of the table, authorizer denials, CORS, request ids.

Each test logs in from its own loopback address (127.0.1.x): the local cloud's API reports the TCP
peer as `requestContext.identity.sourceIp`, so login buckets never carry over between tests. The
gateway caches an authorizer decision per Authorization header (AuthorizerCacheSeconds), so a token
that must be refused after a revocation is never presented before it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from requests.adapters import HTTPAdapter

from localcloud.cloud import LocalCloud
from localcloud.resources import client
from tests.e2e.conftest import SIGNING_KEY_PARAMETER

PASSWORD = "correct horse battery"
PROBLEM_JSON = "application/problem+json"
LOGIN_KEYS = {"access_token", "refresh_token", "token_type", "expires_in", "user_id"}
TIMEOUT = 30
_addresses = itertools.count(1)


class _FromAddress(HTTPAdapter):
    """Connect from a chosen loopback address, so the API sees a distinct client IP."""

    def __init__(self, source_ip: str) -> None:
        self._source_ip = source_ip
        super().__init__(pool_maxsize=16)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._source_ip, 0)
        super().init_poolmanager(*args, **kwargs)


class Client:
    """An HTTP client of the API from one source IP."""

    def __init__(self, api: str, source_ip: str) -> None:
        self.api = api
        self.source_ip = source_ip
        self.session = requests.Session()
        self.session.mount("http://", _FromAddress(source_ip))

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.api}{path}", timeout=TIMEOUT, **kwargs)

    def post(self, path: str, body: Any, *, token: str | None = None, **headers: str) -> requests.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.request("POST", path, json=body, headers=headers)

    def get(self, path: str, *, token: str | None = None, **headers: str) -> requests.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.request("GET", path, headers=headers)

    def register(self, username: str, password: str = PASSWORD) -> requests.Response:
        return self.post("/api/users/register", {"username": username, "password": password})

    def login(self, username: str, password: str = PASSWORD, **headers: str) -> requests.Response:
        return self.post("/api/auth/login", {"username": username, "password": password}, **headers)

    def signed_up(self, username: str) -> dict[str, Any]:
        assert self.register(username).status_code == 201
        reply = self.login(username)
        assert reply.status_code == 200, reply.text
        tokens: dict[str, Any] = reply.json()
        return tokens


def _new_address() -> str:
    n = next(_addresses)
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


@pytest.fixture
def client_(api: str) -> Iterator[Client]:
    """A client from an address no other test uses."""
    c = Client(api, _new_address())
    yield c
    c.session.close()


@pytest.fixture
def username() -> str:
    return f"e2e_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def signing_key(cloud: LocalCloud) -> dict[str, str]:
    """The key ring the local cloud was started with, read back from its SSM (to forge near-valid tokens)."""
    value = client("ssm", cloud.endpoint).get_parameter(Name=SIGNING_KEY_PARAMETER, WithDecryption=True)
    current: dict[str, str] = json.loads(value["Parameter"]["Value"])["current"]
    return current


def assert_problem(
    reply: requests.Response, status: int, code: str, *, request_id: str | None = None
) -> dict[str, Any]:
    """An error from a function: problem JSON with our fields, the request id in body and header."""
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"] == PROBLEM_JSON
    body: dict[str, Any] = reply.json()
    assert body["type"] == "https://tradestream.dev/problems/" + code.lower().replace("_", "-")
    assert (body["status"], body["code"]) == (status, code)
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["requestId"] == reply.headers["X-Request-Id"]
    if request_id is not None:
        assert body["requestId"] == request_id
    return body


def assert_denied(reply: requests.Response, *, request_id: str) -> None:
    """The gateway's own 401 (the authorizer said Unauthorized): the template's problem body, id echoed."""
    assert reply.status_code == 401, reply.text
    assert reply.headers["X-Request-Id"] == request_id
    assert reply.headers["WWW-Authenticate"] == "Bearer"
    body = reply.json()
    assert set(body) == {"type", "title", "status", "detail", "code", "requestId"}
    assert (body["type"], body["status"], body["code"]) == (
        "https://tradestream.dev/problems/unauthorized",
        401,
        "UNAUTHORIZED",
    )
    assert isinstance(body["requestId"], str) and body["requestId"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _sign(claims: dict[str, Any], key: dict[str, str]) -> str:
    private = serialization.load_pem_private_key(key["privateKeyPem"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return jwt.encode(claims, private, algorithm="PS256", headers={"kid": key["kid"]})


# --- register ---------------------------------------------------------------------------------------


def test_register_201_then_409_for_the_same_name(client_: Client, username: str) -> None:
    created = client_.post(
        "/api/users/register",
        {"username": f" {username} ", "password": PASSWORD},
        **{"X-Request-Id": "reg-1"},
    )

    assert created.status_code == 201
    assert created.headers["Content-Type"] == "application/json"
    assert created.headers["X-Request-Id"] == "reg-1"
    body = created.json()
    assert set(body) == {"userId", "username"}
    assert body["username"] == username
    assert str(uuid.UUID(body["userId"])) == body["userId"]

    taken = client_.register(username, "another password")
    assert_problem(taken, 409, "USERNAME_TAKEN")


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"username": "ab", "password": PASSWORD}, ["username"]),
        ({"username": "no spaces", "password": PASSWORD}, ["username"]),
        ({"username": "x" * 65, "password": PASSWORD}, ["username"]),
        ({"username": "okname", "password": "1234567"}, ["password"]),
        ({"username": "okname", "password": "p" * 129}, ["password"]),
        ({"password": PASSWORD}, ["username"]),
    ],
)
def test_register_400_names_the_bad_fields(
    client_: Client, payload: dict[str, Any], fields: list[str]
) -> None:
    body = assert_problem(client_.post("/api/users/register", payload), 400, "VALIDATION_ERROR")
    assert [error["field"] for error in body["errors"]] == fields


def test_concurrent_registration_of_one_name_is_one_201_and_409s(api: str, username: str) -> None:
    # As many racers as the local cloud runs workers of one function (4), each a warm container.
    clients = [Client(api, _new_address()) for _ in range(4)]
    start = threading.Barrier(len(clients))

    def race(c: Client) -> int:
        start.wait()
        return c.register(username).status_code

    with ThreadPoolExecutor(len(clients)) as pool:
        statuses = sorted(pool.map(race, clients))

    assert statuses == [201] + [409] * 3


# --- login ------------------------------------------------------------------------------------------


def test_login_200_has_the_token_shape(client_: Client, username: str, signing_key: dict[str, str]) -> None:
    user_id = client_.register(username).json()["userId"]

    reply = client_.login(username)

    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == LOGIN_KEYS
    assert (body["token_type"], body["expires_in"], body["user_id"]) == ("Bearer", 900, user_id)
    public = serialization.load_pem_public_key(signing_key["publicKeyPem"].encode())
    assert isinstance(public, rsa.RSAPublicKey)
    claims = jwt.decode(body["access_token"], public, algorithms=["PS256"], audience="tradestream-api")
    assert (claims["sub"], claims["username"], claims["token_type"]) == (user_id, username, "access")
    assert jwt.get_unverified_header(body["access_token"])["kid"] == signing_key["kid"]


def test_unknown_user_and_wrong_password_are_the_same_401(client_: Client, username: str) -> None:
    assert client_.register(username).status_code == 201

    wrong = client_.login(username, "wrong password", **{"X-Request-Id": "wrong-1"})
    unknown = client_.login(f"ghost_{username}", "wrong password", **{"X-Request-Id": "ghost-1"})

    a = assert_problem(wrong, 401, "INVALID_CREDENTIALS", request_id="wrong-1")
    b = assert_problem(unknown, 401, "INVALID_CREDENTIALS", request_id="ghost-1")
    assert {**a, "requestId": ""} == {**b, "requestId": ""}


def _owe_refill(cloud: LocalCloud, source_ip: str, seconds: float) -> None:
    """Leave this address's login bucket empty with `seconds` of refill owed.

    Over HTTP a burst of 20 argon2 logins takes longer here than the bucket needs to refill (10/s),
    so the test starts from the state a flood leaves, with enough debt that its own latency cannot
    refill it mid-test. The burst of 20 itself is proven in the unit and integration suites.
    """
    assert cloud.resources is not None
    now_ms = int(time.time() * 1000)
    client("dynamodb", cloud.endpoint).put_item(
        TableName=cloud.resources.names["RateLimitTable"],
        Item={
            "bucketKey": {"S": f"login#{source_ip}"},
            "tokensMilli": {"N": str(-int(seconds * 10_000))},
            "updatedAtMs": {"N": str(now_ms)},
            "expiresAt": {"N": str(now_ms // 1000 + 3600)},
        },
    )


def test_a_flooded_address_gets_429_with_retry_after_while_another_logs_in(
    api: str, cloud: LocalCloud, client_: Client, username: str
) -> None:
    assert client_.register(username).status_code == 201
    _owe_refill(cloud, client_.source_ip, 2.0)

    limited = client_.login(username, **{"X-Request-Id": "flood-1"})

    assert_problem(limited, 429, "RATE_LIMITED", request_id="flood-1")
    retry_after = int(limited.headers["Retry-After"])
    assert retry_after in (2, 3)  # 2.1 s owed (a whole token), rounded up, minus the time spent so far
    # The address is the TCP peer API Gateway reports; X-Forwarded-For is the client's to write.
    for n in range(3):
        assert_problem(client_.login(username, **{"X-Forwarded-For": f"192.0.2.{n}"}), 429, "RATE_LIMITED")
    assert Client(api, _new_address()).login(username).status_code == 200
    # Retry-After is honest: waiting that long is enough.
    time.sleep(retry_after)
    assert client_.login(username).status_code == 200


# --- refresh and logout -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["refreshToken", "refresh_token"])
def test_refresh_returns_a_new_refresh_token(client_: Client, username: str, field: str) -> None:
    tokens = client_.signed_up(username)

    reply = client_.post("/api/auth/refresh", {field: tokens["refresh_token"]})

    assert reply.status_code == 200, reply.text
    rotated = reply.json()
    assert set(rotated) == LOGIN_KEYS
    assert (rotated["token_type"], rotated["expires_in"], rotated["user_id"]) == (
        "Bearer",
        900,
        tokens["user_id"],
    )
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert client_.get("/api/me", token=rotated["access_token"]).json()["userId"] == tokens["user_id"]


def test_reusing_a_rotated_refresh_token_revokes_the_family(client_: Client, username: str) -> None:
    tokens = client_.signed_up(username)
    rotated = client_.post("/api/auth/refresh", {"refreshToken": tokens["refresh_token"]}).json()

    reused = client_.post(
        "/api/auth/refresh", {"refreshToken": tokens["refresh_token"]}, **{"X-Request-Id": "reuse-1"}
    )

    assert_problem(reused, 401, "TOKEN_REUSED", request_id="reuse-1")
    assert_problem(
        client_.post("/api/auth/refresh", {"refreshToken": rotated["refresh_token"]}), 401, "INVALID_TOKEN"
    )
    # The newest access token was never used, so no cached Allow hides the revocation.
    assert_denied(
        client_.get("/api/me", token=rotated["access_token"], **{"X-Request-Id": "reuse-2"}),
        request_id="reuse-2",
    )


def test_refresh_refuses_garbage_and_access_tokens(client_: Client, username: str) -> None:
    tokens = client_.signed_up(username)
    assert_problem(client_.post("/api/auth/refresh", {"refreshToken": "garbage"}), 401, "INVALID_TOKEN")
    assert_problem(
        client_.post("/api/auth/refresh", {"refreshToken": tokens["access_token"]}), 401, "INVALID_TOKEN"
    )


def test_logout_204_then_the_family_is_dead(client_: Client, username: str) -> None:
    device_a = client_.signed_up(username)
    device_b = client_.login(username).json()

    # Device A's access token authenticates the logout of device B's session.
    reply = client_.post(
        "/api/auth/logout", {"refreshToken": device_b["refresh_token"]}, token=device_a["access_token"]
    )

    assert (reply.status_code, reply.text) == (204, "")
    assert_problem(
        client_.post("/api/auth/refresh", {"refreshToken": device_b["refresh_token"]}), 401, "INVALID_TOKEN"
    )
    assert_denied(
        client_.get("/api/me", token=device_b["access_token"], **{"X-Request-Id": "gone-1"}),
        request_id="gone-1",
    )
    # Device A's own session is untouched.
    assert client_.post("/api/auth/refresh", {"refreshToken": device_a["refresh_token"]}).status_code == 200


def test_logout_needs_a_bearer_and_only_ends_the_callers_own_session(client_: Client, username: str) -> None:
    alice = client_.signed_up(username)
    bob = client_.signed_up(f"{username}_b")

    anonymous = client_.post(
        "/api/auth/logout", {"refreshToken": alice["refresh_token"]}, **{"X-Request-Id": "anon-1"}
    )
    assert_denied(anonymous, request_id="anon-1")
    foreign = client_.post(
        "/api/auth/logout", {"refreshToken": alice["refresh_token"]}, token=bob["access_token"]
    )
    assert_problem(foreign, 401, "INVALID_TOKEN")
    assert client_.post("/api/auth/refresh", {"refreshToken": alice["refresh_token"]}).status_code == 200


# --- JWKS and /api/me -------------------------------------------------------------------------------


def test_jwks_lists_the_signing_key(client_: Client, signing_key: dict[str, str]) -> None:
    reply = client_.get("/.well-known/jwks.json")

    assert reply.status_code == 200
    (key,) = reply.json()["keys"]
    assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}
    assert (key["kid"], key["alg"], key["use"], key["kty"]) == (signing_key["kid"], "PS256", "sig", "RSA")


def test_me_answers_with_the_caller(client_: Client, username: str) -> None:
    tokens = client_.signed_up(username)

    reply = client_.get("/api/me", token=tokens["access_token"], **{"X-Request-Id": "me-1"})

    assert reply.status_code == 200
    assert reply.headers["X-Request-Id"] == "me-1"
    assert reply.json() == {"userId": tokens["user_id"], "username": username}


def test_the_authorizer_denies_everything_but_a_live_access_token(
    client_: Client, username: str, signing_key: dict[str, str]
) -> None:
    tokens = client_.signed_up(username)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    jwk = client_.get("/.well-known/jwks.json").json()["keys"][0]
    public_pem = jwt.PyJWK(jwk).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs256_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': jwk['kid']})}.{_segment(claims)}"
    now = int(time.time())
    expired = {"iat": now - 999, "nbf": now - 999, "exp": now - 61}  # past the 60 s skew
    headers: dict[str, dict[str, str]] = {
        "no token": {},
        "basic auth": {"Authorization": "Basic dXNlcjpwYXNz"},
        "garbage": {"Authorization": "Bearer not-a-jwt"},
        "refresh token": {"Authorization": f"Bearer {tokens['refresh_token']}"},
        "alg none": {
            "Authorization": f"Bearer {_segment({'alg': 'none', 'kid': jwk['kid']})}.{_segment(claims)}."
        },
        "HS256 keyed with the published key": {
            "Authorization": f"Bearer {hs256_input}."
            + _b64(hmac.new(public_pem, hs256_input.encode(), hashlib.sha256).digest())
        },
        "wrong audience": {"Authorization": f"Bearer {_sign({**claims, 'aud': 'other-api'}, signing_key)}"},
        "wrong issuer": {
            "Authorization": f"Bearer {_sign({**claims, 'iss': 'https://evil.example'}, signing_key)}"
        },
        "expired": {"Authorization": f"Bearer {_sign({**claims, **expired}, signing_key)}"},
    }
    for name, header in headers.items():
        request_id = f"deny-{name.replace(' ', '-')}"
        assert_denied(client_.get("/api/me", **header, **{"X-Request-Id": request_id}), request_id=request_id)
    # The control: the same claims re-signed with the real key pass.
    assert client_.get("/api/me", token=_sign(claims, signing_key)).status_code == 200


# --- CORS and request ids ---------------------------------------------------------------------------


def test_cors_preflight_on_login(client_: Client) -> None:
    reply = client_.request(
        "OPTIONS",
        "/api/auth/login",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-request-id",
        },
    )

    assert reply.status_code == 200
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in reply.headers["Access-Control-Allow-Methods"].split(",")
    allowed = {h.strip().lower() for h in reply.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-request-id"} <= allowed


def test_cors_headers_on_a_cross_origin_success_and_error(client_: Client, username: str) -> None:
    origin = {"Origin": "https://app.example"}
    assert client_.register(username).status_code == 201
    ok = client_.post("/api/users/register", {"username": f"{username}_c", "password": PASSWORD}, **origin)
    error = client_.login(username, "wrong password", **origin)

    assert (ok.status_code, error.status_code) == (201, 401)
    for reply in (ok, error):
        assert reply.headers["Access-Control-Allow-Origin"] == "*"
        exposed = {h.strip().lower() for h in reply.headers["Access-Control-Expose-Headers"].split(",")}
        assert {"x-request-id", "retry-after"} <= exposed


def test_a_generated_request_id_is_echoed_when_the_client_sends_none(client_: Client) -> None:
    ok = client_.get("/.well-known/jwks.json")
    error = client_.post("/api/auth/refresh", {"refreshToken": "x"})

    assert ok.headers["X-Request-Id"]
    body = assert_problem(error, 401, "INVALID_TOKEN")
    assert body["requestId"] != ok.headers["X-Request-Id"]


def test_an_invalid_client_request_id_is_replaced(client_: Client) -> None:
    reply = client_.post("/api/auth/refresh", {"refreshToken": "x"}, **{"X-Request-Id": "x" * 129})
    body = assert_problem(reply, 401, "INVALID_TOKEN")
    assert body["requestId"] != "x" * 129


def test_an_authorizer_denial_is_served_as_problem_json(client_: Client) -> None:
    reply = client_.get("/api/me", **{"X-Request-Id": "deny-ct"})
    assert reply.status_code == 401
    assert reply.headers["Content-Type"] == PROBLEM_JSON


def test_an_authorizer_denial_without_a_client_request_id_names_the_gateways(client_: Client) -> None:
    # Gateway responses can map headers only from the request or from constants, so with no client
    # id there is no X-Request-Id to echo; the body's requestId is the gateway's own id instead.
    reply = client_.get("/api/me")
    assert reply.status_code == 401
    assert reply.json()["requestId"] == reply.headers["x-amzn-RequestId"]
