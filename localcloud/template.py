"""Loads template.yaml and translates it to plain CloudFormation with the SAM translator."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

from localcloud.errors import TemplateError

# The translator only accepts S3 locations for code; local folders are swapped for this bucket and
# mapped back afterwards, the way `sam build` swaps them for build artefacts.
LOCAL_CODE_BUCKET = "localcloud-code"
_CODE_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


class _NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only for bare names, which we never use."""

    def load(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class Template:
    """A translated template plus what is needed to run it: code folders and parameter values."""

    path: Path
    resources: dict[str, dict[str, Any]]
    parameters: dict[str, str]
    conditions: dict[str, Any]
    mappings: dict[str, Any]
    outputs: dict[str, Any]
    code_dirs: dict[str, Path] = field(default_factory=dict)
    # Where each layer's Python packages are importable from, as Lambda mounts them under /opt/python.
    layer_import_roots: dict[str, Path] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == resource_type}


def load_raw(path: Path) -> dict[str, Any]:
    """The template as written (short intrinsic tags expanded by cfn-lint's loader)."""
    document, matches = decode(str(path))
    if matches or document is None:
        raise TemplateError(f"{path}: " + "; ".join(str(m) for m in matches))
    # cfn-lint returns its own dict/str node types; plain JSON types are easier to walk and compare.
    plain: dict[str, Any] = json.loads(json.dumps(document))
    return plain


def _parameter_values(raw: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, spec in raw.get("Parameters", {}).items():
        if name in overrides:
            values[name] = overrides[name]
        elif "Default" in spec:
            values[name] = str(spec["Default"])
        else:
            raise TemplateError(f"parameter {name} has no default and no override")
    return values


def translate(raw: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """SAM → CloudFormation, exactly what `sam deploy` would hand to CloudFormation."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        translated: dict[str, Any] = transform(copy.deepcopy(raw), dict(parameters), _NoManagedPolicies())
    except Exception as exc:  # the translator raises its own hierarchy; we want one readable message
        raise TemplateError(f"SAM translation failed: {exc}") from exc
    return translated


def _layer_import_root(content_dir: Path, resource: dict[str, Any]) -> Path:
    """`sam build` with a python BuildMethod puts the folder's content under python/ in the layer;
    a prebuilt layer folder already has python/ inside it."""
    build_method = str(resource.get("Metadata", {}).get("BuildMethod", ""))
    return content_dir if build_method.startswith("python") else content_dir / "python"


def load(path: Path, overrides: dict[str, str] | None = None) -> Template:
    path = path.resolve()
    raw = load_raw(path)
    code_dirs: dict[str, Path] = {}
    layer_import_roots: dict[str, Path] = {}
    global_code_uri = raw.get("Globals", {}).get("Function", {}).get("CodeUri")
    for logical_id, resource in raw.get("Resources", {}).items():
        prop = _CODE_PROPERTIES.get(resource.get("Type", ""))
        properties = resource.get("Properties", {})
        if prop == "CodeUri" and prop not in properties and global_code_uri is not None:
            properties = resource.setdefault("Properties", {})
            properties[prop] = global_code_uri  # Globals apply per function; each gets its own key
        if prop and isinstance(properties.get(prop), str) and not properties[prop].startswith("s3://"):
            code_dirs[logical_id] = (path.parent / properties[prop]).resolve()
            properties[prop] = f"s3://{LOCAL_CODE_BUCKET}/{logical_id}"
            if prop == "ContentUri":
                layer_import_roots[logical_id] = _layer_import_root(code_dirs[logical_id], resource)
    parameters = _parameter_values(raw, overrides or {})
    translated = translate(raw, parameters)
    return Template(
        path=path,
        resources=translated["Resources"],
        parameters=parameters,
        conditions=translated.get("Conditions", {}),
        mappings=translated.get("Mappings", {}),
        outputs=translated.get("Outputs", {}),
        code_dirs=code_dirs,
        layer_import_roots=layer_import_roots,
    )
