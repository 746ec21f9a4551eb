"""Shared test helpers: where the repository is, loading a function's handler by path, a moto server child."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from localcloud.cloud import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py under a unique module name (every function's module is `app`)."""
    path = ROOT / "functions" / name / "app.py"
    module_name = f"_fn_{name.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@contextmanager
def moto_server(*, timeout: float = 60) -> Iterator[int]:
    """The local cloud's moto (`python -m localcloud.motoserver`) as a child on a free port; yields it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "localcloud.motoserver", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout, server)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)
