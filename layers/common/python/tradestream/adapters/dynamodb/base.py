"""Binding pynamodb models to runtime table names: the template names tables, not the code."""

from __future__ import annotations

import os
import threading
from typing import Any, TypeVar

from pynamodb.constants import NONE
from pynamodb.exceptions import PynamoDBException
from pynamodb.models import Model

M = TypeVar("M", bound=Model)
_shared_clients: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def _share_client(model: type[Model]) -> None:
    """Give every bound model one botocore client.

    pynamodb builds a botocore session and client per model class (≈0.1 s each on a Lambda cold
    start; a function with seven tables paid most of a second). The client is thread-safe and the
    same for every table, so the first model's client is handed to the others. pynamodb exposes no
    option for this, hence the private attribute; if it disappears, each model simply builds its own.
    """
    connection = model._get_connection().connection
    if not hasattr(connection, "_client"):
        return
    # One client per region and endpoint: tests and tools may point at another moto in one process.
    key = (
        str(model.Meta.region),
        os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL", ""),
    )
    with _lock:
        client = _shared_clients.get(key)
        if client is None:
            _shared_clients[key] = connection.client
        else:
            connection._client = client


def bind(model: type[M], table_name: str) -> type[M]:
    """A subclass of `model` that talks to `table_name` (endpoint and region from the environment).

    pynamodb reads `Meta` per class, so one subclass per table name keeps the model definition
    single while tests and the local cloud point it at their own tables.
    """
    meta = type(
        "Meta",
        (),
        {
            "table_name": table_name,
            "region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            # None lets botocore resolve AWS_ENDPOINT_URL(_DYNAMODB): moto, LocalStack or AWS alike.
            "host": None,
            "max_retry_attempts": 3,
        },
    )
    bound = type(f"{model.__name__}_{table_name}", (model,), {"Meta": meta})
    _share_client(bound)
    return bound


def update_guarded(item: Model, actions: list[Any], condition: Any) -> None:
    """`item.update(actions, condition)` without asking for the item back.

    pynamodb's Model.update always requests ReturnValues=ALL_NEW to refresh the object; a projection's
    guarded write never reads it, and serialising returned items took about a fifth of moto's CPU under
    the end-to-end benchmark (on AWS it costs no capacity, only response bytes). Raises UpdateError as
    update() does.
    """
    hash_key, range_key = item._get_hash_range_key_serialized_values()
    item._get_connection().update_item(
        hash_key, range_key=range_key, actions=actions, condition=condition, return_values=NONE
    )


def condition_failed(exc: PynamoDBException) -> bool:
    """Whether a write was refused by its condition (the expected outcome of every guarded write)."""
    return exc.cause_response_code == "ConditionalCheckFailedException"


# What DynamoDB answers when it throttles a request (the SDK retried it already before giving up).
_THROTTLED_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


def throttled(exc: PynamoDBException) -> bool:
    """Whether a request failed because DynamoDB throttled it (worth another try a moment later)."""
    return exc.cause_response_code in _THROTTLED_CODES
