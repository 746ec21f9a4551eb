"""The auth function in-process on moto: every route of issue 3's table, exact statuses, codes and bodies."""

from __future__ import annotations

import threading
import time
import uuid
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.events import Reply, authorizer_event, rest_event
from tests.fakes.clock import ManualClock
from tests.integration.identity.conftest import PASSWORD, ColdStart, Function
from tests.integration.identity.problems import assert_problem
from tradestream.auth import PasswordHashing
from tradestream.observability import logger

LOGIN_KEYS = {"access_token", "refresh_token", "token_type", "expires_in", "user_id"}


def _rsa_public(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def _register(auth: Function, username: str, password: str = PASSWORD, **kwargs: Any) -> Reply:
    return auth(
        rest_event("POST", "/api/users/register", body={"username": username, "password": password}, **kwargs)
    )


def _login(auth: Function, username: str, password: str = PASSWORD, **kwargs: Any) -> Reply:
    return auth(
        rest_event("POST", "/api/auth/login", body={"username": username, "password": password}, **kwargs)
    )


def _refresh(auth: Function, body: dict[str, Any], **kwargs: Any) -> Reply:
    return auth(rest_event("POST", "/api/auth/refresh", body=body, **kwargs))


def _logout(auth: Function, refresh_token: str, *, user_id: str, username: str) -> Reply:
    caller = {"userId": user_id, "username": username, "scopes": "orders:write"}
    return auth(
        rest_event("POST", "/api/auth/logout", body={"refreshToken": refresh_token}, authorizer=caller)
    )


def _signed_up(auth: Function, username: str) -> dict[str, Any]:
    assert _register(auth, username).status == 201
    reply = _login(auth, username)
    assert reply.status == 200, reply.body
    tokens: dict[str, Any] = reply.json()
    return tokens


# --- register ---------------------------------------------------------------------------------------


def test_register_answers_201_with_the_new_user(auth: Function, username: str) -> None:
    reply = _register(auth, f"  {username} ", headers={"X-Request-Id": "reg-1"})

    assert reply.status == 201
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["x-request-id"] == "reg-1"
    body = reply.json()
    assert set(body) == {"userId", "username"}
    assert body["username"] == username  # trimmed
    assert str(uuid.UUID(body["userId"])) == body["userId"]


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"username": "ab", "password": PASSWORD}, ["username"]),
        ({"username": "x" * 65, "password": PASSWORD}, ["username"]),
        ({"username": "bad name", "password": PASSWORD}, ["username"]),
        ({"username": "okname", "password": "short"}, ["password"]),
        ({"username": "okname", "password": "p" * 129}, ["password"]),
        ({"username": "a", "password": "b"}, ["username", "password"]),
        ({"password": PASSWORD}, ["username"]),
        ({"username": "okname"}, ["password"]),
        ({"username": 42, "password": PASSWORD}, ["username"]),
    ],
)
def test_register_refuses_invalid_input_with_400(
    auth: Function, payload: dict[str, Any], fields: list[str]
) -> None:
    reply = auth(rest_event("POST", "/api/users/register", body=payload, request_id="gw-400"))

    body = assert_problem(reply, 400, "VALIDATION_ERROR", request_id="gw-400")
    assert [error["field"] for error in body["errors"]] == fields


@pytest.mark.parametrize("raw_body", ["{not json", "", "[]", '"alice"'])
def test_register_refuses_a_body_that_is_not_the_json_object(auth: Function, raw_body: str) -> None:
    event = rest_event(
        "POST", "/api/users/register", raw_body=raw_body, headers={"Content-Type": "application/json"}
    )
    assert_problem(auth(event), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("content_type", "raw_body"),
    [
        ("application/x-www-form-urlencoded", "username=alice&password=secret123"),
        ("text/plain", "alice secret123"),
        ("application/xml", "<user><username>alice</username></user>"),
        # found by schemathesis: powertools' body parser raised a bare ValueError, answered with a 500
        ("multipart/form-data", '{"username": "alice", "password": "secret123"}'),
        ("multipart/form-data", ""),
    ],
)
def test_register_refuses_a_body_that_is_not_json_with_415(
    auth: Function, content_type: str, raw_body: str
) -> None:
    event = rest_event(
        "POST", "/api/users/register", raw_body=raw_body, headers={"Content-Type": content_type}
    )
    body = assert_problem(auth(event), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert body["instance"] == "/api/users/register"


def test_a_taken_username_is_409(auth: Function, username: str) -> None:
    assert _register(auth, username).status == 201

    for again in (username, f" {username} "):
        body = assert_problem(_register(auth, again, "other password"), 409, "USERNAME_TAKEN")
        assert body["instance"] == "/api/users/register"


def test_concurrent_registrations_of_one_name_give_one_201_and_the_rest_409(
    cold_start: ColdStart, username: str
) -> None:
    # Eight warm containers, as eight concurrent Lambda invocations would be, racing on one table.
    containers = [cold_start("AuthFunction") for _ in range(8)]
    start = threading.Barrier(len(containers))
    replies: list[Reply] = []
    failures: list[BaseException] = []

    def race(container: Function) -> None:
        start.wait()
        try:
            replies.append(_register(container, username))
        except BaseException as exc:  # a crash is a 500 in Lambda: the test must see it
            failures.append(exc)

    threads = [threading.Thread(target=race, args=(container,)) for container in containers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert sorted(reply.status for reply in replies) == [201] + [409] * 7
    for reply in replies:
        if reply.status == 409:
            assert_problem(reply, 409, "USERNAME_TAKEN")


# --- login ------------------------------------------------------------------------------------------


def test_login_answers_200_with_a_bearer_pair(
    auth: Function, username: str, signing_key: dict[str, str]
) -> None:
    user_id = _register(auth, username).json()["userId"]

    reply = _login(auth, username)

    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["cache-control"] == "no-store"  # RFC 6749: token responses are never cached
    body = reply.json()
    assert set(body) == LOGIN_KEYS
    assert (body["token_type"], body["expires_in"], body["user_id"]) == ("Bearer", 900, user_id)
    public_key = _rsa_public(signing_key["publicKeyPem"])
    for token, token_type in ((body["access_token"], "access"), (body["refresh_token"], "refresh")):
        header = jwt.get_unverified_header(token)
        assert (header["alg"], header["kid"]) == ("PS256", signing_key["kid"])
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["PS256"],
            audience="tradestream-api",
            issuer="https://tradestream.dev",
        )
        assert (claims["sub"], claims["username"], claims["token_type"]) == (user_id, username, token_type)
    access = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert access["exp"] - access["iat"] == 900


def test_unknown_user_and_wrong_password_get_the_same_401(auth: Function, username: str) -> None:
    assert _register(auth, username).status == 201

    wrong_password = _login(auth, username, "wrong password", request_id="req-a")
    unknown_user = _login(auth, f"nobody_{username}", "wrong password", request_id="req-b")

    a = assert_problem(wrong_password, 401, "INVALID_CREDENTIALS", request_id="req-a")
    b = assert_problem(unknown_user, 401, "INVALID_CREDENTIALS", request_id="req-b")
    assert {**a, "requestId": None} == {**b, "requestId": None}
    assert {**wrong_password.headers, "x-request-id": ""} == {**unknown_user.headers, "x-request-id": ""}


@pytest.mark.parametrize("name", ["", "   ", "not a valid name!", "x" * 256])
def test_a_username_that_cannot_exist_is_the_same_401(auth: Function, name: str) -> None:
    assert_problem(_login(auth, name, "whatever123"), 401, "INVALID_CREDENTIALS")


def test_login_is_rate_limited_per_source_ip_never_per_forwarded_for(
    cold_start: ColdStart, username: str, source_ip: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A container whose clock stands still, so the bucket is exact: nothing refills while the test runs.
    auth = cold_start("AuthFunction")
    clock = ManualClock(time.time())
    monkeypatch.setattr(auth.module, "time", SimpleNamespace(time=clock))
    # Toy argon2 cost: this test is about the bucket, and 27 production-cost hashes are slow here.
    monkeypatch.setattr(auth.module, "_passwords", lambda: PasswordHashing(PasswordHasher(1, 8, 1)))
    assert _register(auth, username).status == 201

    statuses = [
        _login(auth, username, "wrong password" if n % 2 else PASSWORD, source_ip=source_ip).status
        for n in range(20)
    ]
    assert statuses == [200, 401] * 10

    limited = _login(auth, username, source_ip=source_ip, headers={"X-Request-Id": "flood-21"})
    body = assert_problem(limited, 429, "RATE_LIMITED", request_id="flood-21")
    assert limited.headers["retry-after"] == "1"
    assert "access_token" not in body
    # X-Forwarded-For is the client's to write: a new value each time changes nothing.
    for n in range(3):
        spoofed = _login(auth, username, source_ip=source_ip, headers={"X-Forwarded-For": f"192.0.2.{n}"})
        assert_problem(spoofed, 429, "RATE_LIMITED")

    # Another address still logs in; the flooded one does again once a token has refilled (100 ms).
    assert _login(auth, username, source_ip="192.0.2.200").status == 200
    clock.advance(0.1)
    assert _login(auth, username, source_ip=source_ip).status == 200
    assert _login(auth, username, source_ip=source_ip).status == 429


# --- refresh and logout -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["refreshToken", "refresh_token"])
def test_refresh_rotates_the_refresh_token(auth: Function, username: str, field: str) -> None:
    tokens = _signed_up(auth, username)

    reply = _refresh(auth, {field: tokens["refresh_token"]})

    assert reply.status == 200, reply.body
    rotated = reply.json()
    assert set(rotated) == LOGIN_KEYS
    assert (rotated["token_type"], rotated["expires_in"], rotated["user_id"]) == (
        "Bearer",
        900,
        tokens["user_id"],
    )
    assert rotated["refresh_token"] != tokens["refresh_token"]
    old = jwt.decode(tokens["refresh_token"], options={"verify_signature": False})
    new = jwt.decode(rotated["refresh_token"], options={"verify_signature": False})
    assert new["fam"] == old["fam"]
    assert new["jti"] != old["jti"]


def test_reuse_of_a_rotated_refresh_token_is_token_reused_and_revokes_the_family(
    auth: Function, authorizer: Function, username: str
) -> None:
    tokens = _signed_up(auth, username)
    rotated = _refresh(auth, {"refreshToken": tokens["refresh_token"]}).json()

    reused = _refresh(auth, {"refreshToken": tokens["refresh_token"]}, request_id="reuse-1")

    assert_problem(reused, 401, "TOKEN_REUSED", request_id="reuse-1")
    # The whole family is gone: the newest refresh token and the newest access token alike.
    assert_problem(_refresh(auth, {"refreshToken": rotated["refresh_token"]}), 401, "INVALID_TOKEN")

    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.raw(authorizer_event(headers={"Authorization": f"Bearer {rotated['access_token']}"}))


@pytest.mark.parametrize(
    "body",
    [{"refreshToken": "garbage"}, {"refreshToken": ""}, {"refresh_token": "a.b.c"}],
)
def test_refresh_refuses_garbage_with_401(auth: Function, body: dict[str, Any]) -> None:
    assert_problem(_refresh(auth, body), 401, "INVALID_TOKEN")


def test_refresh_refuses_an_access_token(auth: Function, username: str) -> None:
    tokens = _signed_up(auth, username)
    assert_problem(_refresh(auth, {"refreshToken": tokens["access_token"]}), 401, "INVALID_TOKEN")


def test_refresh_without_a_token_is_400(auth: Function) -> None:
    body = assert_problem(_refresh(auth, {"token": "x"}), 400, "VALIDATION_ERROR")
    assert body["errors"][0]["field"] in ("refreshToken", "refresh_token")


def test_logout_answers_204_and_the_family_is_then_revoked(
    auth: Function, authorizer: Function, username: str
) -> None:
    tokens = _signed_up(auth, username)

    reply = _logout(auth, tokens["refresh_token"], user_id=tokens["user_id"], username=username)

    assert (reply.status, reply.body) == (204, "")
    assert_problem(_refresh(auth, {"refreshToken": tokens["refresh_token"]}), 401, "INVALID_TOKEN")

    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.raw(authorizer_event(headers={"Authorization": f"Bearer {tokens['access_token']}"}))


def test_logout_with_another_users_refresh_token_is_401_and_revokes_nothing(
    auth: Function, username: str
) -> None:
    alice = _signed_up(auth, username)
    bob = _signed_up(auth, f"{username}_bob")

    reply = _logout(auth, alice["refresh_token"], user_id=bob["user_id"], username=f"{username}_bob")

    assert_problem(reply, 401, "INVALID_TOKEN")
    assert _refresh(auth, {"refreshToken": alice["refresh_token"]}).status == 200


def test_logout_without_the_authorizer_context_fails_closed(auth: Function, username: str) -> None:
    tokens = _signed_up(auth, username)
    event = rest_event("POST", "/api/auth/logout", body={"refreshToken": tokens["refresh_token"]})
    assert_problem(auth(event), 401, "UNAUTHORIZED")
    assert _refresh(auth, {"refreshToken": tokens["refresh_token"]}).status == 200


# --- JWKS and /api/me -------------------------------------------------------------------------------


def test_jwks_publishes_the_public_key_for_ps256(auth: Function, signing_key: dict[str, str]) -> None:
    reply = auth(rest_event("GET", "/.well-known/jwks.json"))

    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    keys = reply.json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}  # no private member ever
    assert (key["kid"], key["alg"], key["use"], key["kty"], key["e"]) == (
        signing_key["kid"],
        "PS256",
        "sig",
        "RSA",
        "AQAB",
    )
    published = jwt.PyJWK(key).key
    expected = _rsa_public(signing_key["publicKeyPem"])
    assert published.public_numbers() == expected.public_numbers()


def test_me_answers_with_the_authorizer_context(auth: Function) -> None:
    caller = {"userId": "u-123", "username": "alice", "scopes": "orders:read"}
    reply = auth(rest_event("GET", "/api/me", authorizer=caller))
    assert reply.status == 200
    assert reply.json() == {"userId": "u-123", "username": "alice"}


def test_me_without_the_authorizer_context_fails_closed(auth: Function) -> None:
    assert_problem(auth(rest_event("GET", "/api/me")), 401, "UNAUTHORIZED")


def test_an_unknown_route_is_a_404_problem(auth: Function) -> None:
    assert_problem(
        auth(rest_event("GET", "/api/nope", request_id="nf-1")), 404, "ROUTE_NOT_FOUND", request_id="nf-1"
    )


# --- request ids and CORS ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("supplied", "echoed"),
    [
        ("trace-42", "trace-42"),
        ("a" * 128, "a" * 128),
        ("a" * 129, "gateway-id"),
        ("bad id with spaces", "gateway-id"),
        ("<script>", "gateway-id"),
        (None, "gateway-id"),
    ],
)
def test_request_id_is_the_valid_client_value_or_the_gateways(
    auth: Function, supplied: str | None, echoed: str
) -> None:
    headers = {} if supplied is None else {"X-Request-Id": supplied}

    ok = auth(rest_event("GET", "/.well-known/jwks.json", headers=headers, request_id="gateway-id"))
    error = auth(
        rest_event(
            "POST", "/api/auth/refresh", body={"refreshToken": "x"}, headers=headers, request_id="gateway-id"
        )
    )

    assert ok.headers["x-request-id"] == echoed
    assert_problem(error, 401, "INVALID_TOKEN", request_id=echoed)
    assert logger.get_correlation_id() == echoed  # every log line of the request carries it


def test_cors_headers_are_on_successes_and_errors(auth: Function, username: str) -> None:
    origin = {"Origin": "https://app.example"}
    ok = auth(rest_event("GET", "/.well-known/jwks.json", headers=origin))
    error = _login(auth, username, headers=origin)

    for reply in (ok, error):
        assert reply.headers["access-control-allow-origin"] == "*"
        exposed = {name.strip().lower() for name in reply.headers["access-control-expose-headers"].split(",")}
        assert {"x-request-id", "retry-after"} <= exposed
    assert error.status == 401
