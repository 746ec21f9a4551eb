"""Keeps CPython's cyclic garbage collector off what a function builds once: its modules and clients.

A warm Lambda process holds a few hundred thousand objects made at init and on its first invocation
(modules, pydantic and powertools machinery, botocore's service models behind each client). The
process's first full collection walks every one of them with the GIL held, and lands on whichever
request crosses the threshold: 150 to 600 ms in each of our functions on the local cloud (gen-2
pauses timed with gc.callbacks under the end-to-end benchmark, one per worker process, the slowest
orders of a step). gc.freeze() moves what exists to a permanent generation that collections skip;
it splices a list and walks nothing. Garbage made afterwards is collected as before; a reference
cycle that was already garbage at a freeze stays allocated, a one-time few kilobytes here.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


def warm_heap(handler: Callable[[Any, Any], R]) -> Callable[[Any, Any], R]:
    """Freeze the heap now (the handler's module and all it imported) and after the first invocation
    (the clients and models built lazily on it). Outermost decorator of a lambda_handler."""
    gc.freeze()
    first = True

    @functools.wraps(handler)
    def invoke(event: Any, context: Any) -> R:
        nonlocal first
        try:
            return handler(event, context)
        finally:
            if first:  # a Lambda process runs one invocation at a time
                first = False
                gc.freeze()

    return invoke
