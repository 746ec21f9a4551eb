"""Identity routes: register, login, refresh, logout, JWKS and /api/me."""

from __future__ import annotations

import functools
import time
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AliasChoices, BaseModel, Field

from tradestream.adapters.dynamodb.identity import DynamoRateLimitStore, DynamoSessionStore, DynamoUserStore
from tradestream.adapters.ssm import load_keyring
from tradestream.api.caller import caller_of
from tradestream.api.resolver import create_resolver
from tradestream.auth import KeyRing, PasswordHashing, TokenBucket, TokenIssuer, TokenVerifier
from tradestream.heap import warm_heap
from tradestream.identity.service import IdentityService, LoginResult, LoginThrottle
from tradestream.observability import logger
from tradestream.settings import AuthApiSettings

app = create_resolver()


class Credentials(BaseModel):
    username: str = Field(max_length=256)
    password: str = Field(max_length=1024)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(
        validation_alias=AliasChoices("refreshToken", "refresh_token"), max_length=8192
    )


@functools.cache
def settings() -> AuthApiSettings:
    return AuthApiSettings.from_env()


@functools.cache
def _passwords() -> PasswordHashing:
    # One per container: its decoy hash is made once, so an unknown user never costs an extra hash.
    return PasswordHashing()


@functools.cache
def _stores() -> tuple[DynamoUserStore, DynamoSessionStore, LoginThrottle]:
    s = settings()
    throttle = LoginThrottle(
        DynamoRateLimitStore(s.rate_limit_table), TokenBucket(s.login_rate_per_second, s.login_burst)
    )
    return DynamoUserStore(s.users_table), DynamoSessionStore(s.sessions_table), throttle


def service() -> IdentityService:
    s = settings()
    # The ring is re-read every SIGNING_KEY_CACHE_SECONDS: after a rotation a warm container signs
    # with the new key and still verifies refresh tokens signed with the previous one.
    return _service(load_keyring(s.signing_key_parameter, max_age=s.key_cache_seconds, with_private_key=True))


@functools.lru_cache(maxsize=1)
def _service(keyring: KeyRing) -> IdentityService:
    s = settings()
    users, sessions, throttle = _stores()
    return IdentityService(
        users=users,
        sessions=sessions,
        issuer=TokenIssuer(keyring, s.issuer, s.audience, s.access_ttl_seconds, s.refresh_ttl_seconds),
        verifier=TokenVerifier(keyring, s.issuer, s.audience),
        passwords=_passwords(),
        throttle=throttle,
        clock=time.time,
    )


def _tokens(result: LoginResult) -> Response[dict[str, Any]]:
    body = {
        "access_token": result.tokens.access_token,
        "refresh_token": result.tokens.refresh_token,
        "token_type": "Bearer",
        "expires_in": result.tokens.expires_in,
        "user_id": result.user_id,
    }
    # RFC 6749 §5.1: responses carrying tokens must not be stored by any cache.
    return Response(
        200, "application/json", body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )


@app.post("/api/users/register", status_code=201)
def register(body: Credentials) -> Response[dict[str, str]]:
    user = service().register(body.username, body.password)
    return Response(201, "application/json", {"userId": user.user_id, "username": user.username})


@app.post("/api/auth/login")
def login(body: Credentials) -> Response[dict[str, Any]]:
    source_ip = app.current_event.request_context.identity.source_ip
    return _tokens(service().login(body.username, body.password, source_ip=source_ip))


@app.post("/api/auth/refresh")
def refresh(body: RefreshRequest) -> Response[dict[str, Any]]:
    return _tokens(service().refresh(body.refresh_token))


@app.post("/api/auth/logout", status_code=204)
def logout(body: RefreshRequest) -> Response[str]:
    service().logout(body.refresh_token, caller_user_id=caller_of(app.current_event.raw_event).user_id)
    return Response(204, None, "")


@app.get("/.well-known/jwks.json")
def jwks() -> Response[dict[str, Any]]:
    s = settings()
    keyring = load_keyring(s.signing_key_parameter, max_age=s.key_cache_seconds, with_private_key=False)
    return Response(
        200, "application/json", dict(keyring.jwks()), headers={"Cache-Control": "public, max-age=300"}
    )


@app.get("/api/me")
def me() -> dict[str, str]:
    caller = caller_of(app.current_event.raw_event)
    return {"userId": caller.user_id, "username": caller.username}


@warm_heap
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
