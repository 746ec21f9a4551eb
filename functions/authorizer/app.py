"""The API's Lambda REQUEST authorizer: PS256 access tokens of live sessions only."""

from __future__ import annotations

import functools
import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tradestream.adapters.dynamodb.identity import DynamoSessionStore
from tradestream.adapters.ssm import load_keyring
from tradestream.api.resolver import request_id_of
from tradestream.auth import KeyRing, TokenVerifier
from tradestream.errors import InvalidToken
from tradestream.heap import warm_heap
from tradestream.identity.service import Authorization
from tradestream.observability import logger
from tradestream.settings import AuthorizerSettings


@functools.cache
def settings() -> AuthorizerSettings:
    return AuthorizerSettings.from_env()


@functools.cache
def _sessions() -> DynamoSessionStore:
    return DynamoSessionStore(settings().sessions_table)


def authorization() -> Authorization:
    s = settings()
    # Re-read every SIGNING_KEY_CACHE_SECONDS, so a warm authorizer learns a new key's kid instead
    # of refusing every token it signs until the container happens to be recycled.
    return _authorization(
        load_keyring(s.signing_key_parameter, max_age=s.key_cache_seconds, with_private_key=False)
    )


@functools.lru_cache(maxsize=1)
def _authorization(keyring: KeyRing) -> Authorization:
    s = settings()
    return Authorization(
        verifier=TokenVerifier(keyring, s.issuer, s.audience), sessions=_sessions(), clock=time.time
    )


def _bearer(event: dict[str, Any]) -> str | None:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    scheme, _, token = str(headers.get("authorization", "")).partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _api_wildcard(method_arn: str) -> str:
    # arn:aws:execute-api:region:account:apiId/stage/METHOD/path → .../apiId/stage/*/*: the cached
    # policy must allow every route, since API Gateway reuses it for the same token on any route.
    arn, _, rest = method_arn.partition(":execute-api:")
    region_account_api, *_ = rest.split("/", 2)
    stage = rest.split("/")[1] if rest.count("/") >= 1 else "*"
    return f"{arn}:execute-api:{region_account_api}/{stage}/*/*"


@warm_heap
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(request_id_of(event))  # its log lines carry the request's X-Request-Id too
    token = _bearer(event)
    if token is None:
        raise Exception("Unauthorized")  # API Gateway's contract: this exact message means 401
    try:
        claims = authorization().authorize(token)
    except InvalidToken as exc:
        logger.info("token refused", extra={"reason": exc.detail})
        raise Exception("Unauthorized") from exc
    return {
        "principalId": claims.user_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": _api_wildcard(event["methodArn"]),
                }
            ],
        },
        "context": {"userId": claims.user_id, "username": claims.username, "scopes": " ".join(claims.scopes)},
    }
