"""GET /actuator/health: liveness of the API, without auth."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tradestream.api.resolver import create_resolver
from tradestream.observability import logger

app = create_resolver()


@app.get("/actuator/health")
def health() -> dict[str, str]:
    return {"status": "UP"}


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
