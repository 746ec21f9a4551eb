"""The health route is served by a function the template declares, without auth."""

from __future__ import annotations

import requests


def test_health_is_up_without_auth(api: str, http: requests.Session) -> None:
    response = http.get(f"{api}/actuator/health", timeout=30)
    assert response.status_code == 200
    assert response.json() == {"status": "UP"}
    assert response.headers["X-Request-Id"]


def test_client_request_id_is_echoed(api: str, http: requests.Session) -> None:
    response = http.get(f"{api}/actuator/health", headers={"X-Request-Id": "trace-42"}, timeout=30)
    assert response.headers["X-Request-Id"] == "trace-42"


def test_unknown_route_is_a_problem(api: str, http: requests.Session) -> None:
    response = http.get(f"{api}/api/no-such-thing", headers={"X-Request-Id": "r-1"}, timeout=30)
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "ROUTE_NOT_FOUND"
    assert response.headers["X-Request-Id"] == "r-1"


def test_openapi_document_is_served_without_auth(api: str, http: requests.Session) -> None:
    response = http.get(f"{api}/api/openapi.json", timeout=30)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/api/orders" in document["paths"]
    assert document["paths"]["/api/orders"]["post"]["security"] == [{"bearerAuth": []}]
    assert "security" not in document["paths"]["/api/auth/login"]["post"]
