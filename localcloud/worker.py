"""The child side of a function worker: imports the handler once and serves invocations over a pipe."""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any, TextIO

import botocore.handlers

from localcloud import callcount, faults
from localcloud.tablerouter import routing_handlers

_STREAM_KEY = "localcloud.worker.stream"


class LambdaContext:
    """What AWS passes as `context`: the fields powertools and our handlers read."""

    def __init__(
        self, *, function_name: str, arn: str, memory_mb: int, request_id: str, deadline: float
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        # The AWS runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE: a string, whatever typing says.
        self.memory_limit_in_mb = str(memory_mb)
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"localcloud/{os.getpid()}"
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _Prefixed(io.TextIOBase):
    """Prefixes every line a function prints with its name, as `sam local` does with its log groups."""

    def __init__(self, target: TextIO, prefix: str) -> None:
        self._target = target
        self._prefix = prefix
        self._at_line_start = True

    def write(self, text: str) -> int:
        out = []
        for piece in text.splitlines(keepends=True):
            if self._at_line_start:
                out.append(self._prefix)
            out.append(piece)
            self._at_line_start = piece.endswith("\n")
        self._target.write("".join(out))
        self._target.flush()
        return len(text)

    def flush(self) -> None:
        self._target.flush()


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[-8:],
    }


def stream_name(params: dict[str, Any]) -> str:
    """The stream a Kinesis call names, by StreamName or by the last part of its StreamARN."""
    return str(params.get("StreamName") or str(params.get("StreamARN", "")).rpartition("/")[2])


def announce_puts(conn: Connection, sending: threading.Lock) -> None:
    """Tell the local cloud each time one of this function's Kinesis puts has landed, while the
    invocation goes on, so that the stream's mappings read it at once rather than at their next idle
    poll: as enhanced fan-out pushes a record to its consumer as it lands (about 70 ms on AWS)."""

    def note_stream(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_STREAM_KEY] = stream_name(params)

    def announce(http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if getattr(http_response, "status_code", 500) < 300 and _STREAM_KEY in context:
            # A handler may put from any of its threads; the pipe takes one message at a time.
            try:
                with sending:
                    conn.send(("put", context[_STREAM_KEY]))
            except OSError:
                pass  # the records landed; only the wake-up is lost (the mappings' idle poll reads them)

    # Every botocore session registers BUILTIN_HANDLERS when it is made: boto3's and pynamodb's alike.
    for operation in ("PutRecord", "PutRecords"):
        botocore.handlers.BUILTIN_HANDLERS += [
            (f"before-parameter-build.kinesis.{operation}", note_stream),
            (f"after-call.kinesis.{operation}", announce),
        ]


# What a function may see of the host's environment; the rest of it is the function's own, as on AWS.
_HOST_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR")


def serve(conn: Connection, spec: dict[str, Any]) -> None:
    """Entry point of the worker process (spawned, so no module state leaks in from the parent)."""
    callcount.install_from_env(spec["logical_id"])  # opt-in; reads the host environment cleared below
    host = {k: os.environ[k] for k in _HOST_VARIABLES if k in os.environ}
    os.environ.clear()
    os.environ.update({**host, **spec["environment"]})
    time.tzset()
    sys.path[:0] = [spec["code_dir"], *spec["layer_paths"]]
    prefix = f"[{spec['logical_id']}] "
    sys.stdout = _Prefixed(sys.__stdout__, prefix)  # type: ignore[arg-type]
    sys.stderr = _Prefixed(sys.__stderr__, prefix)  # type: ignore[arg-type]
    faults.install(spec["logical_id"])  # opt-in: LOCALCLOUD_FAULTS in the function's environment
    sending = threading.Lock()
    announce_puts(conn, sending)
    # Every botocore session registers BUILTIN_HANDLERS when it is made: boto3's and pynamodb's alike.
    botocore.handlers.BUILTIN_HANDLERS += routing_handlers(spec.get("dynamodb_tables") or {})
    module_name, _, function_name = spec["handler"].rpartition(".")
    handler: Any = None
    init_error: dict[str, Any] | None = None
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # an import error is reported on every invocation, as Lambda does
        init_error = _error(exc)
        init_error["errorType"] = "Runtime.ImportModuleError"
    with sending:
        conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        request_id, event_json, timeout = message
        if init_error is not None:
            with sending:
                conn.send(("error", init_error))
            continue
        context = LambdaContext(
            function_name=spec["name"],
            arn=spec["arn"],
            memory_mb=spec["memory_mb"],
            request_id=request_id,
            deadline=time.monotonic() + timeout,
        )
        try:
            result = handler(json.loads(event_json), context)
            reply: tuple[str, Any] = ("ok", json.dumps(result))
        except Exception as exc:
            reply = ("error", _error(exc))
        with sending:  # a put of a thread the handler left running may still be announcing
            conn.send(reply)
