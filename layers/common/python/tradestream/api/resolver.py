"""The one APIGatewayRestResolver factory every API function uses: CORS, request ids, errors mapped once."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ValidationException,
)

from tradestream.api.problems import from_error, problem
from tradestream.errors import TradeStreamError
from tradestream.observability import logger

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

CORS = CORSConfig(
    allow_origin="*",
    allow_headers=[REQUEST_ID_HEADER, "Content-Type", "Authorization"],
    expose_headers=[REQUEST_ID_HEADER, "Retry-After", "Location"],
    max_age=600,
)


def request_id_of(event: Any) -> str:
    """The client's X-Request-Id when it is well formed, else API Gateway's request id."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    supplied = headers.get(REQUEST_ID_HEADER.lower())
    # fullmatch: `$` would also accept a trailing newline, and the value goes into a response header.
    if supplied and _VALID_REQUEST_ID.fullmatch(supplied):
        return str(supplied)
    context_id = (event.get("requestContext") or {}).get("requestId")
    return str(context_id or uuid.uuid4())


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "application/json").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _unsupported_media_type(
    app: APIGatewayRestResolver, *, with_body_only: bool = True
) -> Response[str] | None:
    """A 415 problem for a body that is not JSON (or, with_body_only=False, a non-JSON Content-Type)."""
    event = app.current_event
    if (with_body_only and not event.body) or _is_json(
        event.headers.get("content-type") or event.headers.get("Content-Type")
    ):
        return None
    # Without this, a form-encoded body would surface as "field required" errors that mislead.
    return problem(
        status=415,
        code="UNSUPPORTED_MEDIA_TYPE",
        title="Unsupported media type",
        detail="request bodies must be JSON (Content-Type: application/json)",
        request_id=request_id_of(event.raw_event),
        instance=event.path,
    )


def _echo_request_id(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    request_id = request_id_of(app.current_event.raw_event)
    logger.set_correlation_id(request_id)
    response = _unsupported_media_type(app) or next_middleware(app)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _validation_errors(exc: ValidationException) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        errors.append({"field": ".".join(location) or "body", "message": str(error.get("msg", "invalid"))})
    return errors


def create_resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(cors=CORS, enable_validation=True)
    app.use([_echo_request_id])

    def rid() -> str:
        return request_id_of(app.current_event.raw_event)

    def domain_error(exc: TradeStreamError) -> Response[str]:
        if exc.status >= 500:
            logger.error("request failed", extra={"code": exc.code, "detail": exc.detail})
        return from_error(exc, request_id=rid(), instance=app.current_event.path)

    def invalid_request(exc: RequestValidationError | RequestUnsupportedContentType) -> Response[str]:
        # powertools validates the body before any middleware of ours runs, so a body that is not
        # JSON arrives here (or as RequestUnsupportedContentType) before the 415 check could.
        unsupported = _unsupported_media_type(app)
        if unsupported is not None:
            return unsupported
        errors = _validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(
            status=400,
            code="VALIDATION_ERROR",
            title="Request validation failed",
            detail=detail or "invalid request",
            request_id=rid(),
            instance=app.current_event.path,
            errors=errors,
        )

    @app.not_found
    def not_found(_exc: NotFoundError) -> Response[str]:
        return problem(
            status=404,
            code="ROUTE_NOT_FOUND",
            title="No such route",
            detail=f"{app.current_event.http_method} {app.current_event.path} is not a route of this API",
            request_id=rid(),
        )

    def unparseable_body(exc: ValueError) -> Response[str]:
        # powertools parses the body by its Content-Type before any middleware of ours runs, and a
        # multipart/form-data header without a boundary escapes it as a bare ValueError: that is the
        # client's unsupported media type, not our 500. Any other ValueError still is a 500.
        return _unsupported_media_type(app, with_body_only=False) or unexpected(exc)

    def unexpected(exc: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return problem(
            status=500,
            code="INTERNAL_ERROR",
            title="Internal error",
            detail="an unexpected error occurred; quote the requestId when reporting it",
            request_id=rid(),
        )

    # powertools' decorators are untyped; registering the typed functions keeps mypy strict here.
    app.exception_handler(TradeStreamError)(domain_error)
    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(RequestUnsupportedContentType)(invalid_request)
    app.exception_handler(ValueError)(unparseable_body)
    app.exception_handler(Exception)(unexpected)
    return app


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
