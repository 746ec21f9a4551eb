"""warm_heap freezes a function's heap at import and after its first invocation, and changes nothing else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# In a child: a freeze is for the life of the process, and this one is pytest's.
SCRIPT = """
import gc
from tradestream.heap import warm_heap

calls = []

def handler(event, context):
    calls.append(event)
    built = [[i] for i in range(5_000)]  # what a first invocation builds lazily (clients, models)
    calls.append(built)
    if event == "boom":
        raise ValueError("boom")
    return {"echo": event}

gc.unfreeze()
wrapped = warm_heap(handler)
at_import = gc.get_freeze_count()
assert wrapped.__name__ == "handler"
assert wrapped("a", None) == {"echo": "a"}
after_first = gc.get_freeze_count()
assert wrapped("b", None) == {"echo": "b"}
after_second = gc.get_freeze_count()
cycle = []
cycle.append(cycle)  # garbage made after the freezes is still collected
del cycle
print(at_import, after_first, after_second, gc.collect())
"""


def freeze_counts(script: str) -> list[int]:
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO / "layers" / "common" / "python",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [int(n) for n in done.stdout.split()]


def test_the_heap_is_frozen_at_import_and_after_the_first_invocation_only() -> None:
    at_import, after_first, after_second, collected = freeze_counts(SCRIPT)
    assert at_import > 0
    assert after_first >= at_import + 5_000  # what the first invocation built
    assert after_second == after_first  # later invocations leave the heap to the collector
    assert collected >= 1


def test_a_failing_first_invocation_still_raises_and_still_freezes() -> None:
    script = SCRIPT.replace(
        'assert wrapped("a", None) == {"echo": "a"}',
        ("try:\n    wrapped('boom', None)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError"),
    )
    at_import, after_first, _, _ = freeze_counts(script)
    assert after_first >= at_import + 5_000
