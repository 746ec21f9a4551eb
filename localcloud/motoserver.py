"""moto's server as the local cloud runs it: `python -m localcloud.motoserver -H HOST -p PORT`.

It is moto's own server with one fix our functions depend on: SQS FIFO ReceiveMessage (checked
against moto 5.2.5) breaks the order of a message group, which is the whole point of a FIFO lane:
- when in-flight messages of a group become visible again (a partial batch failure, a crashed
  consumer), the group counts as "in flight" until the *last* of them has been looked at, so the
  first one is skipped and a later one is delivered before it;
- the groups in flight are computed once per call and go stale during a long poll, and concurrent
  calls are not serialised, so two consumers can be handed batches of the same group at once;
- a long poll spins the CPU while every visible message belongs to a group in flight.
Receive and delete also no longer walk the whole queue: receiving and deleting a batch of 10 cost
stock moto 6 ms of CPU at a depth of 0 and 49 ms at 3,000, so a lane that fell behind fell further
behind; here 4 and 4.5 ms (`python bench/e2e/fifo_depth.py`).
The replacement keeps moto's signature and semantics otherwise (redrive to the DLQ on receive,
retention, attribute filtering). If moto's internals no longer look as expected, moto is left as
it is and a warning says so. It also makes DynamoDB's item writes atomic (localcloud/motoitems.py)
and drops moto's per-request overheads (localcloud/motospeed.py).
"""

from __future__ import annotations

import argparse
import inspect
import sys
import threading
import warnings
from copy import deepcopy
from typing import Any

import moto
from moto.core.utils import unix_time
from moto.kinesis import models as kinesis_models
from moto.server import main as moto_main
from moto.sqs import models
from moto.sqs.exceptions import ReceiptHandleIsInvalid
from moto.sqs.models import _filter_message_attributes

from localcloud import motoitems, motospeed

_LOCK = threading.RLock()
_POLL_SECONDS = 0.05
_EXPECTED_PARAMETERS = [
    "self",
    "queue_name",
    "count",
    "wait_seconds_timeout",
    "visibility_timeout",
    "message_attribute_names",
]


def _receive_once(
    backend: Any,
    queue: Any,
    *,
    queue_name: str,
    count: int,
    visibility_timeout: int,
    attribute_names: list[str],
) -> list[Any]:
    # Messages whose visibility timeout expired are no longer in flight: forget them all first, so
    # the groups still in flight are exactly those with an invisible message.
    for message in [m for m in queue.pending_messages if m.visible]:
        queue.pending_messages.discard(message)
    groups_in_flight = queue.pending_message_groups if queue.fifo_queue else set()
    result: list[Any] = []
    to_dead_letter: list[Any] = []
    # Visible, not delayed, in the order they were sent: moto's `queue.messages`, read lazily, so that a
    # receive stops at its tenth message instead of filtering the whole queue first (its cost grew with
    # the backlog: a deep lane then fell further behind).
    for message in queue._messages:
        if not message.visible or message.delayed:
            continue
        if queue.fifo_queue and message.group_id in groups_in_flight:
            continue
        if (
            queue.dead_letter_queue is not None
            and queue.redrive_policy
            and message.approximate_receive_count >= queue.redrive_policy["maxReceiveCount"]
        ):
            to_dead_letter.append(message)
            continue
        queue.pending_messages.add(message)
        message.mark_received(visibility_timeout=visibility_timeout)
        copied = deepcopy(message)
        _filter_message_attributes(copied, attribute_names)
        if not backend.is_message_valid_based_on_retention_period(queue_name, message):
            break
        result.append(copied)
        if len(result) >= count:
            break
    for message in to_dead_letter:
        queue._messages.remove(message)
        queue.dead_letter_queue.add_message(message)
    return result


def receive_message(  # noqa: PLR0917 - moto's own signature, called positionally
    self: Any,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Any]:
    queue = self.get_queue(queue_name)
    polling_end = unix_time() + wait_seconds_timeout
    while True:
        with _LOCK:
            result = _receive_once(
                self,
                queue,
                queue_name=queue_name,
                count=count,
                visibility_timeout=visibility_timeout,
                attribute_names=message_attribute_names or [],
            )
        remaining = polling_end - unix_time()
        if result or remaining <= 0:
            return result
        with queue._messages_lock:  # woken early by a new message
            queue._messages_lock.wait(timeout=min(_POLL_SECONDS, remaining))


def patch() -> bool:
    """Install the fixed ReceiveMessage; returns whether moto looked as expected."""
    parameters = list(inspect.signature(models.SQSBackend.receive_message).parameters)
    properties = ("pending_messages", "pending_message_groups", "messages")
    # The attributes Queue.__init__ sets, from its compiled code (no source file to read at every start).
    state = set(models.Queue.__init__.__code__.co_names)
    if (
        parameters != _EXPECTED_PARAMETERS
        or not all(hasattr(models.Queue, p) for p in properties)
        or not {"_messages", "deleted_messages"} <= state
    ):
        warnings.warn(
            f"moto {getattr(moto, '__version__', '?')}: SQS internals changed; FIFO receive left unpatched",
            stacklevel=2,
        )
        return False

    def delete_message(queue: Any, receipt_handle: str) -> None:
        """moto's delete (a handle deleted twice is fine, an unknown one is invalid) in one pass that
        stops at the message and removes it in place. moto walked every message twice and rebuilt the
        list, which also lost a message sent meanwhile (appended to the list being replaced)."""
        with _LOCK:  # a receive never sees the in-flight set change under it
            if receipt_handle in queue.deleted_messages:
                return
            messages = queue._messages
            index = next((i for i, m in enumerate(messages) if m.had_receipt_handle(receipt_handle)), None)
            if index is None:
                raise ReceiptHandleIsInvalid()
            message = messages.pop(index)
            queue.pending_messages.discard(message)
            queue.deleted_messages.update(message.all_receipt_handles)

    setattr(models.SQSBackend, "receive_message", receive_message)  # noqa: B010 - mypy forbids method assignment
    setattr(models.Queue, "delete_message", delete_message)  # noqa: B010
    return True


_SHARD_LOCK = threading.Lock()


def patch_kinesis() -> bool:
    """Serialise Kinesis shard puts: moto's Shard.put_record reads the last sequence number and then
    appends ("not safe for concurrency", says its own comment), so two concurrent PutRecords on one
    shard could get the same number and one record silently replaced the other."""
    shard = getattr(kinesis_models, "Shard", None)
    put_record = getattr(shard, "put_record", None)
    if put_record is None:
        warnings.warn("moto's Kinesis internals changed; shard puts left unserialised", stacklevel=2)
        return False

    def locked_put_record(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _SHARD_LOCK:
            return put_record(self, *args, **kwargs)

    setattr(shard, "put_record", locked_put_record)  # noqa: B010 - mypy forbids method assignment
    return True


STOCK_SERVING = "--stock-serving"  # an experiment's switch: moto's own request handling, unpatched


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    patch()
    patch_kinesis()
    motoitems.patch()
    if STOCK_SERVING in args:
        args.remove(STOCK_SERVING)
        moto_main(args)
        return
    motospeed.install()
    parser = argparse.ArgumentParser(description="moto's server as the local cloud runs it")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    parser.add_argument(
        "--forward",
        action="append",
        default=[],
        metavar="SERVICE=URL",
        help="relay this service's requests to the moto at URL (repeatable; localcloud/forward.py)",
    )
    parser.add_argument(
        "--table-moto",
        action="append",
        default=[],
        metavar="URL",
        help="a moto to place DynamoDB tables on as they are created (repeatable; localcloud/tablerouter.py)",
    )
    parser.add_argument("--name", default="moto", help="what this moto serves, for process listings")
    options = parser.parse_args(args)
    forward = dict(item.split("=", 1) for item in options.forward)
    motospeed.serve(
        options.host, options.port, forward=forward, table_motos=options.table_moto, ident=options.name
    )


if __name__ == "__main__":
    main()
