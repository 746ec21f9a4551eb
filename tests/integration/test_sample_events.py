"""The sample events in events/: one per function and route, each invoked as a user would invoke it.

The files are written by scripts/sample_events.py (`make events`), which also says what each must return.
Static checks cover every file: it is what the script writes, every function and Api route of template.yaml
has one, and each has the shape of its event source. Then the samples run through the command line of
the local cloud, `python -m localcloud invoke FUNCTION --event events/X.json`, against one moto server:
by default one sample per function (the `primary` one; about half a minute), and every sample in order
with TRADESTREAM_SAMPLE_EVENTS=all (several minutes: each invocation translates the template, provisions
the stack and cold-starts the function).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from localcloud.template import load_raw
from scripts.sample_events import EVENTS, Sample, render, samples
from tests.support import ROOT, TEMPLATE, moto_server
from tradestream.auth import generate_dev_keypair
from tradestream.contracts import parse_lane_command, parse_matching_batch

SIGNING_KEY_PARAMETER = "/tradestream/local/jwt-signing-key"  # the template's default SigningKeyParameter
KEPT_AS_GENERATED = {"apigateway-aws-proxy.json"}  # `sam local generate-event apigateway aws-proxy`
SAMPLES = samples()


def _functions() -> dict[str, dict[str, Any]]:
    resources = load_raw(TEMPLATE)["Resources"]
    return {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


def _events(function: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    events = function["Properties"].get("Events", {}).values()
    return [e["Properties"] for e in events if e["Type"] == kind]


# --- the files --------------------------------------------------------------------------------------------
def test_the_files_are_what_make_events_writes() -> None:
    stale = [s.file for s in SAMPLES if (EVENTS / s.file).read_text() != render(s)]
    assert not stale, f"run make events: {stale} differ from scripts/sample_events.py"
    known = {s.file for s in SAMPLES} | KEPT_AS_GENERATED
    strays = sorted(p.name for p in EVENTS.glob("*.json") if p.name not in known)
    assert not strays, f"events/ holds files scripts/sample_events.py does not write: {strays}"


def test_every_function_and_route_has_a_sample() -> None:
    functions = _functions()
    by_function: dict[str, list[Sample]] = {}
    for sample in SAMPLES:
        assert sample.function in functions, f"{sample.file}: no function {sample.function} in template.yaml"
        by_function.setdefault(sample.function, []).append(sample)
    missing = sorted(set(functions) - set(by_function))
    assert not missing, f"functions without a sample event (add them to scripts/sample_events.py): {missing}"
    for function, found in by_function.items():
        assert sum(s.primary for s in found) == 1, f"{function}: exactly one primary sample"
        declared = {(e["Method"].upper(), e["Path"]) for e in _events(functions[function], "Api")}
        covered = {s.route for s in found if s.route is not None}
        assert declared == covered, (
            f"{function}: routes without a sample {declared - covered}, stale {covered - declared}"
        )


def test_api_samples_are_rest_proxy_events_of_their_route() -> None:
    functions = _functions()
    for sample in SAMPLES:
        if sample.route is None:
            continue
        method, resource = sample.route
        event = sample.event
        assert (event["httpMethod"], event["resource"]) == (method, resource), sample.file
        params = event["pathParameters"] or {}
        assert event["path"] == resource.format(**params), f"{sample.file}: path parameters fill the resource"
        assert event["requestContext"]["resourcePath"] == resource
        assert event["multiValueHeaders"] == {k: [v] for k, v in event["headers"].items()}
        route = next(
            e
            for e in _events(functions[sample.function], "Api")
            if (e["Method"].upper(), e["Path"]) == sample.route
        )
        public = route.get("Auth", {}).get("Authorizer") == "NONE"
        context = event["requestContext"].get("authorizer")
        if public:
            assert context is None, f"{sample.file}: a public route gets no authorizer context"
        else:
            assert context and context["userId"] == context["principalId"], (
                f"{sample.file}: authorizer context"
            )
        if event["body"] is not None:
            json.loads(event["body"])


def test_queue_and_stream_samples_carry_valid_contracts() -> None:
    functions = _functions()
    for sample in (s for s in SAMPLES if s.route is None and "Records" in s.event):
        kinds = {e["Type"] for e in functions[sample.function]["Properties"].get("Events", {}).values()}
        for record in sample.event["Records"]:
            if record["eventSource"] == "aws:sqs":
                assert kinds == {"SQS"}, sample.file
                command = parse_lane_command(record["body"])
                attributes = record["attributes"]
                assert attributes["MessageGroupId"] == command.ticker, "the lane's group is the ticker"
                assert attributes["MessageDeduplicationId"] == command.command_id
                assert record["eventSourceARN"].endswith(".fifo")
            else:
                assert kinds == {"Kinesis"}, sample.file
                assert record["eventSource"] == "aws:kinesis"
                entry = parse_matching_batch(base64.b64decode(record["kinesis"]["data"]))
                assert record["kinesis"]["partitionKey"] == entry.ticker, (
                    "the stream's partition key is the ticker"
                )
                assert [e.n for e in entry.events] == list(range(len(entry.events)))


# --- invoked through the local cloud's command line ----------------------------------------------------
@pytest.fixture(scope="module")
def aws_port() -> Iterator[int]:
    """One moto server: each invocation provisions the stack there (idempotent) and sees earlier writes."""
    with moto_server() as port:
        yield port


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A key ring in the format scripts/dev_keys.py writes (2048 bits: tests only)."""
    private_pem, public_pem = generate_dev_keypair(bits=2048)
    document = {
        "current": {"kid": "samples", "privateKeyPem": private_pem, "publicKeyPem": public_pem},
        "previous": [],
    }
    path = tmp_path_factory.mktemp("keys") / "signing-key.json"
    path.write_text(json.dumps(document))
    return path


def _result(stdout: str) -> dict[str, Any]:
    """The invoke command prints the function's log lines, then the result as indented JSON."""
    lines = stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    loaded: dict[str, Any] = json.loads("\n".join(lines[start:]))
    return loaded


def invoke(sample: Sample, port: int, key_file: Path) -> str | None:
    """Run one sample through `python -m localcloud invoke`; a description of the mismatch, or None."""
    command = [sys.executable, "-m", "localcloud", "--aws-port", str(port)]
    command += ["--ssm", f"{SIGNING_KEY_PARAMETER}=@{key_file}"]
    command += ["invoke", sample.function, "--event", f"events/{sample.file}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    try:
        result = _result(done.stdout)
    except ValueError:
        return (
            f"{sample.file}: exit {done.returncode}, no result\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    expect = sample.expect
    if expect.error is not None:
        ok = done.returncode == 1 and result.get("errorMessage") == expect.error
    elif expect.batch_ok:
        ok = done.returncode == 0 and result.get("batchItemFailures") == []
    elif expect.result is not None:
        ok = done.returncode == 0 and result == expect.result
    else:
        ok = done.returncode == 0 and result.get("statusCode") == expect.status
    return (
        None
        if ok
        else f"{sample.file}: expected {expect}, got exit {done.returncode}: {json.dumps(result)[:1500]}"
    )


@pytest.mark.timeout(1800)
def test_samples_through_localcloud_invoke(aws_port: int, key_file: Path) -> None:
    if os.environ.get("TRADESTREAM_SAMPLE_EVENTS") == "all":
        failures = [
            invoke(s, aws_port, key_file) for s in SAMPLES
        ]  # in order: later samples read earlier writes
    else:
        first, *rest = [s for s in SAMPLES if s.primary]
        failures = [invoke(first, aws_port, key_file)]  # provisions the stack once, before the parallel ones
        with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
            failures += pool.map(lambda s: invoke(s, aws_port, key_file), rest)
    problems = [f for f in failures if f is not None]
    assert not problems, "\n\n".join(problems)
