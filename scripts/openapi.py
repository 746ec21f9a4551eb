"""Builds the API's OpenAPI document from every API function's resolver; `--check` fails on drift.

Each function owns its routes (powertools generates its part); the template says which function serves
which route and which routes are public, so the merged document follows the template.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localcloud.template import load_raw  # noqa: E402
from tests.support import load_function  # noqa: E402

TARGET = ROOT / "layers/common/python/tradestream/api/openapi.json"
PROBLEM = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail", "code", "requestId"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "stable machine-readable error code"},
        "requestId": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def _api_functions() -> dict[str, dict[tuple[str, str], bool]]:
    """function folder -> {(METHOD, path): public}"""
    raw = load_raw(ROOT / "template.yaml")
    result: dict[str, dict[tuple[str, str], bool]] = {}
    for resource in raw["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        for event in props.get("Events", {}).values():
            if event["Type"] != "Api":
                continue
            folder = Path(props["CodeUri"]).name
            e = event["Properties"]
            public = e.get("Auth", {}).get("Authorizer") == "NONE"
            result.setdefault(folder, {})[(e["Method"].upper(), e["Path"])] = public
    return result


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": PROBLEM}}}


def build() -> dict[str, Any]:
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "TradeStream API", "version": "1.0.0"},
        "servers": [{"url": "/"}],
        "paths": {},
        "components": {
            "schemas": {"Problem": PROBLEM_SCHEMA},
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
    for folder, routes in sorted(_api_functions().items()):
        app = load_function(folder).app
        part = json.loads(app.get_openapi_json_schema(title="TradeStream API", version="1.0.0"))
        document["components"]["schemas"].update(part.get("components", {}).get("schemas", {}))
        for path, operations in part["paths"].items():
            for method, operation in operations.items():
                public = routes.get((method.upper(), path))
                if public is None:
                    continue  # a resolver route the template does not expose
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses["400"] = _problem_response("Validation failed")
                if not public:
                    operation["security"] = [{"bearerAuth": []}]
                    responses["401"] = _problem_response("Missing or invalid bearer token")
                responses["default"] = _problem_response("Any other error")
                document["paths"].setdefault(path, {})[method] = operation
    for name in ("HTTPValidationError", "ValidationError"):
        document["components"]["schemas"].pop(name, None)
    return document


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print("the OpenAPI document drifted; run `make openapi`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
