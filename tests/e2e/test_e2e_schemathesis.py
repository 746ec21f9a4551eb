"""Bad input (issue 9): schemathesis against the local cloud, every operation of GET /api/openapi.json.

The schema is the one the API serves; requests carry a registered user's token (user-scoped paths get
that user's id, so the fuzzed query and body reach the handlers instead of stopping at the 403). Two
checks: no 5xx, and every 4xx is problem JSON (application/problem+json with `code` and `requestId`);
and every response's status and media type is one the document lists.
A few examples per operation (positive and negative data) keep the run short; generation is
derandomized so a failure replays. Each operation is its own test: hypothesis drives the operation's
strategy directly (schemathesis' lazy pytest loader does not run on pytest 9).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from localcloud.cloud import LocalCloud
from tests.support import ROOT

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 8
OPENAPI = ROOT / "layers/common/python/tradestream/api/openapi.json"
PASSWORD = "correct horse battery"
# None keeps the case's own (JSON); the others are bodies the API must refuse with a 415.
CONTENT_TYPES = (None, None, "multipart/form-data", "text/plain", "application/x-www-form-urlencoded")


@pytest.fixture(scope="module")
def owner(api: str, http: requests.Session) -> dict[str, str]:
    credentials = {"username": f"fuzz_{uuid.uuid4().hex[:10]}", "password": PASSWORD}
    assert http.post(f"{api}/api/users/register", json=credentials, timeout=30).status_code == 201
    login = http.post(f"{api}/api/auth/login", json=credentials, timeout=30)
    assert login.status_code == 200, login.text
    return {"user_id": login.json()["user_id"], "token": login.json()["access_token"]}


@pytest.fixture(scope="module")
def api_schema(cloud: LocalCloud) -> Any:
    schema = schemathesis.openapi.from_url(f"{cloud.api_url}/api/openapi.json")
    schema.config.update(base_url=cloud.api_url)
    return schema


def _header(response: schemathesis.Response, name: str) -> str:
    value: Any = response.headers.get(name.lower()) or response.headers.get(name) or ""
    return ",".join(value) if isinstance(value, list) else str(value)


def problem_json_for_4xx(ctx: Any, response: schemathesis.Response, case: schemathesis.Case[Any]) -> None:
    """Every 4xx is an RFC 9457 problem with our stable `code` and the `requestId`."""
    if not 400 <= response.status_code < 500:
        return
    media_type = _header(response, "Content-Type").split(";")[0].strip()
    assert media_type == "application/problem+json", (
        f"{response.status_code} with Content-Type {media_type!r}: {response.content[:200]!r}"
    )
    body = json.loads(response.content)
    missing = {"code", "requestId", "status", "title"} - set(body)
    assert not missing, f"{response.status_code} problem without {sorted(missing)}: {body}"
    assert body["status"] == response.status_code, body


# The two the issue asks for, and the document's own promises (status codes and media types it lists).
CHECKS = [not_a_server_error, problem_json_for_4xx, status_code_conformance, content_type_conformance]


def _operations() -> list[tuple[str, str]]:
    document = json.loads(OPENAPI.read_text())
    return [(method.upper(), path) for path, item in document["paths"].items() for method in item]


OPERATIONS = _operations()


def test_the_served_document_is_the_one_fuzzed(api_schema: Any) -> None:
    served = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert served == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_5xx_and_every_4xx_is_a_problem(
    api_schema: Any, owner: dict[str, str], method: str, path: str
) -> None:
    operation = api_schema[path][method]
    fixed = {"user_id": owner["user_id"]} if "{user_id}" in path else None
    cases = st.one_of(*(operation.as_strategy(mode, path_parameters=fixed) for mode in GenerationMode))
    # The body under a Content-Type the API does not take: each must be a 415 problem, never a 500.
    content_types = st.sampled_from(CONTENT_TYPES if operation.body else (None,))
    auth = {"Authorization": f"Bearer {owner['token']}"}

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, content_type=content_types)
    def fuzz(case: schemathesis.Case[Any], content_type: str | None) -> None:
        headers = {**auth, **({"Content-Type": content_type} if content_type else {})}
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

    fuzz()
