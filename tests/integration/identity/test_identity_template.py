"""Edge security as template.yaml wires it: which routes skip the authorizer, how the authorizer is called."""

from __future__ import annotations

import pytest

from localcloud.resources import LocalResources
from localcloud.wiring import RestApi, wire

# Issue 3: the authorizer guards every route except these; the API's OpenAPI document may be public too.
MUST_BE_PUBLIC = {
    ("POST", "/api/users/register"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/refresh"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/actuator/health"),
}
MAY_BE_PUBLIC = MUST_BE_PUBLIC | {("GET", "/api/openapi.json")}


@pytest.fixture(scope="module")
def rest_api(identity_env: LocalResources) -> RestApi:
    (api,) = wire(identity_env).apis
    return api


def test_only_the_public_routes_skip_the_authorizer(rest_api: RestApi) -> None:
    functions = [route for route in rest_api.routes if route.function is not None]  # not the CORS mocks
    public = {(route.method, route.path) for route in functions if route.authorizer is None}

    assert public >= MUST_BE_PUBLIC
    assert public <= MAY_BE_PUBLIC, f"routes without the authorizer: {sorted(public - MAY_BE_PUBLIC)}"
    assert {route.authorizer for route in functions if route.authorizer is not None} == {"BearerAuthorizer"}


def test_the_identity_routes_are_served_by_the_auth_function(rest_api: RestApi) -> None:
    served = {(route.method, route.path): route.function for route in rest_api.routes if route.function}
    identity = [
        ("POST", "/api/users/register"),
        ("POST", "/api/auth/login"),
        ("POST", "/api/auth/refresh"),
        ("POST", "/api/auth/logout"),
        ("GET", "/.well-known/jwks.json"),
        ("GET", "/api/me"),
    ]
    assert {route: served[route] for route in identity} == dict.fromkeys(identity, "AuthFunction")


def test_the_authorizer_is_a_request_authorizer_keyed_on_the_authorization_header(rest_api: RestApi) -> None:
    spec = rest_api.authorizers["BearerAuthorizer"]

    assert spec.function == "AuthorizerFunction"
    assert spec.identity_headers == ("Authorization",)
    # Cached decisions outlive a logout by at most this long; keep it well under the access TTL.
    assert 0 < spec.ttl_seconds <= 300


def test_preflight_on_login_needs_no_token(rest_api: RestApi) -> None:
    preflight = [
        route for route in rest_api.routes if (route.method, route.path) == ("OPTIONS", "/api/auth/login")
    ]
    assert len(preflight) == 1
    assert preflight[0].authorizer is None
    assert preflight[0].mock_headers["Access-Control-Allow-Origin"] == "*"
