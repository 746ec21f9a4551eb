"""Binding pynamodb models to runtime table names: the template names tables, not the code."""

from __future__ import annotations

import os
from typing import TypeVar

from pynamodb.models import Model

M = TypeVar("M", bound=Model)


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
    return type(f"{model.__name__}_{table_name}", (model,), {"Meta": meta})
