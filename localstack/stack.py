"""The Python half of localstack/deploy.sh: wait, prepare the build, seed, print the outputs.

    python localstack/stack.py wait        # LocalStack answers and its READY hooks have finished
    python localstack/stack.py prepare     # the samlocal build, made deployable on LocalStack's free tier
    python localstack/stack.py seed        # the artifact bucket, and the JWT key ring into SSM
    python localstack/stack.py outputs     # the stack outputs and the URL the REST API answers on

`prepare` turns `.aws-sam/localstack/build/template.yaml` (written by `samlocal build`) into
`template.json` next to it, and writes `stack.env` for the container's READY hook
(localstack/init/ready.d/), which redeploys that build whenever LocalStack restarts. Lambda layers are
not served by LocalStack's free tier, so unless LOCALSTACK_LAMBDA_LAYERS=1 the layer's content is copied
into every function and the layer is dropped from the template: the same code runs, packaged differently.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from localcloud.template import load_raw

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".aws-sam" / "localstack"
BUILD = STATE / "build"
CONFIG_ENV = "localstack"
DEFAULT_ENDPOINT = "http://localhost:4566"
# Every function imports these from the layer: a layer without them was built without its requirements.
REQUIRED_LAYER_MODULES = ("aws_lambda_powertools", "pydantic")


class StackError(Exception):
    """A condition deploy.sh reports in one line and exits on."""


def endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL", DEFAULT_ENDPOINT).rstrip("/")


def _client(service: str) -> Any:
    make: Any = boto3.client
    return make(
        service,
        endpoint_url=endpoint(),
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )


# --- samconfig -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Environment:
    """What deploy.sh and the READY hook need from one samconfig.toml environment."""

    stack_name: str
    s3_bucket: str
    overrides: dict[str, str]


def samconfig(env: str = CONFIG_ENV) -> Environment:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    merged: dict[str, Any] = {}
    for command in ("global", "deploy"):
        merged.update(config.get(env, {}).get(command, {}).get("parameters", {}))
    raw = merged.get("parameter_overrides", [])
    pairs = raw if isinstance(raw, list) else shlex.split(str(raw))
    missing = [key for key in ("stack_name", "s3_bucket") if key not in merged]
    if missing:
        raise StackError(f"samconfig.toml sets no {' or '.join(missing)} for the {env!r} environment")
    return Environment(
        stack_name=str(merged["stack_name"]),
        s3_bucket=str(merged["s3_bucket"]),
        overrides=dict(str(pair).split("=", 1) for pair in pairs),
    )


# --- wait ----------------------------------------------------------------------------------------------
def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def wait(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            if _get_json(f"{endpoint()}/_localstack/init/ready").get("completed") is True:
                print(f"LocalStack is ready on {endpoint()}")
                return
            last = "READY hooks still running"
        except urllib.error.HTTPError as exc:
            # Port 4566 is also the local cloud's (make run): something answers, but not LocalStack.
            last = f"{exc.url} answered {exc.code}, so this is not LocalStack (is make run using the port?)"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(exc)
        time.sleep(2)
    raise StackError(
        f"LocalStack did not become ready on {endpoint()} within {timeout:.0f}s ({last}); "
        "is it running (make localstack-up)? docker logs tradestream-localstack shows why not"
    )


# --- prepare -------------------------------------------------------------------------------------------
def _layer_roots(content: Path) -> list[Path]:
    """The folders whose children land on sys.path from a built Python layer (/opt/python)."""
    roots = [content / "python"]
    nested = content / "python" / "python"
    if nested.is_dir():
        # ContentUri pointed at a folder that already had python/ in it: the build nested it once more,
        # which AWS Lambda would not import (/opt/python/python/...). Flattening reaches both levels.
        print(
            f"warning: the built layer nests its code in {nested.relative_to(ROOT)}; on AWS the layer's "
            "code would not be importable (see docs/operations.md, Deploying)",
            file=sys.stderr,
        )
        roots.append(nested)
    return roots


def _check_layer(layer_id: str, roots: list[Path]) -> None:
    missing = [m for m in REQUIRED_LAYER_MODULES if not any((r / m).is_dir() for r in roots)]
    if missing:
        raise StackError(
            f"the built layer {layer_id} lacks {', '.join(missing)}: sam build installs a layer's "
            "dependencies from the requirements.txt in its ContentUri folder "
            "(layers/common/python/requirements.txt)"
        )


def _without_layers(layers: Any, layer_ids: set[str]) -> list[Any]:
    return [ref for ref in layers or [] if not (isinstance(ref, dict) and ref.get("Ref") in layer_ids)]


def flatten_layers(template: dict[str, Any], build: Path) -> list[str]:
    """Copy every layer into every function and drop the layers; returns the layer ids flattened."""
    resources: dict[str, Any] = template["Resources"]
    layers = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::LayerVersion"}
    functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    for layer_id, layer in layers.items():
        roots = _layer_roots(build / layer["Properties"]["ContentUri"])
        _check_layer(layer_id, roots)
        for function in functions.values():
            target = build / function["Properties"]["CodeUri"]
            for root in roots:
                for child in root.iterdir():
                    if child in roots[1:]:
                        continue  # the nested level is copied from its own root
                    if child.is_dir():
                        shutil.copytree(child, target / child.name, dirs_exist_ok=True)
                    else:
                        shutil.copy2(child, target / child.name)
    ids = set(layers)
    function_globals = template.get("Globals", {}).get("Function", {})
    if "Layers" in function_globals:
        function_globals["Layers"] = _without_layers(function_globals["Layers"], ids)
        if not function_globals["Layers"]:
            del function_globals["Layers"]
    for function in functions.values():
        if "Layers" in function["Properties"]:
            function["Properties"]["Layers"] = _without_layers(function["Properties"]["Layers"], ids)
    for layer_id in ids:
        del resources[layer_id]
    return sorted(ids)


def prepare(keep_layers: bool) -> None:
    built = BUILD / "template.yaml"
    if not built.is_file():
        raise StackError(
            f"{built.relative_to(ROOT)} is missing: run samlocal build first (localstack/deploy.sh)"
        )
    template = load_raw(built)
    if keep_layers:
        resources = template["Resources"].items()
        for layer_id, layer in resources:
            if layer["Type"] == "AWS::Serverless::LayerVersion":
                _check_layer(layer_id, _layer_roots(BUILD / layer["Properties"]["ContentUri"]))
    else:
        flattened = flatten_layers(template, BUILD)
        print(f"copied layer(s) {', '.join(flattened) or '-'} into every function (LocalStack free tier)")
    (BUILD / "template.json").write_text(json.dumps(template, indent=1))
    env = samconfig()
    key_parameter = env.overrides.get("SigningKeyParameter") or str(
        template["Parameters"]["SigningKeyParameter"]["Default"]
    )
    values = {
        "STACK_NAME": env.stack_name,
        "ARTIFACT_BUCKET": env.s3_bucket,
        "SIGNING_KEY_PARAMETER": key_parameter,
        "PARAMETER_OVERRIDES": " ".join(f"{k}={v}" for k, v in env.overrides.items()),
    }
    (STATE / "stack.env").write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items()))
    print(
        f"wrote {(BUILD / 'template.json').relative_to(ROOT)} and {(STATE / 'stack.env').relative_to(ROOT)}"
    )


# --- seed / outputs --- --------------------------------------------------------------------------------
def seed(key_file: Path) -> None:
    """The artifact bucket samlocal deploy uploads to, and the JWT key ring in its SSM SecureString."""
    if not key_file.is_file():
        raise StackError(
            f"{key_file} is missing: make .dev-keys/signing-key.json (or make localstack-deploy)"
        )
    env = samconfig()
    name = env.overrides.get("SigningKeyParameter")
    if not name:
        raise StackError("samconfig.toml sets no SigningKeyParameter for the localstack environment")
    s3 = _client("s3")
    try:
        s3.head_bucket(Bucket=env.s3_bucket)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=env.s3_bucket)
    _client("ssm").put_parameter(Name=name, Value=key_file.read_text(), Type="SecureString", Overwrite=True)
    print(f"artifact bucket {env.s3_bucket} ready; JWT key ring seeded into {name}")


def outputs() -> None:
    stack = _client("cloudformation").describe_stacks(StackName=samconfig().stack_name)["Stacks"][0]
    values = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    for key, value in sorted(values.items()):
        print(f"  {key:<10} {value}")
    if "ApiId" in values and "ApiStage" in values:
        api = f"{endpoint()}/_aws/execute-api/{values['ApiId']}/{values['ApiStage']}"
        print(f"  REST API   {api}")
        print(f"  try:       curl -s {api}/actuator/health")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python localstack/stack.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    waiting = commands.add_parser("wait", help="wait until LocalStack answers and its READY hooks finished")
    waiting.add_argument("--timeout", type=float, default=300)
    commands.add_parser("prepare", help="make the samlocal build deployable on LocalStack; write stack.env")
    seed_parser = commands.add_parser(
        "seed", help="create the artifact bucket; put the JWT key ring into SSM"
    )
    seed_parser.add_argument("--key-file", type=Path, default=ROOT / ".dev-keys" / "signing-key.json")
    commands.add_parser("outputs", help="print the stack outputs and the REST API URL on LocalStack")
    args = parser.parse_args(argv)
    try:
        if args.command == "wait":
            wait(args.timeout)
        elif args.command == "prepare":
            prepare(keep_layers=os.environ.get("LOCALSTACK_LAMBDA_LAYERS") == "1")
        elif args.command == "seed":
            seed(args.key_file)
        else:
            outputs()
    except StackError as exc:
        print(f"localstack/stack.py {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
