"""Function settings as pydantic models read from the environment, validated at cold start."""

from __future__ import annotations

import os
from typing import Self

from pydantic import BaseModel, ConfigDict, Field


class EnvSettings(BaseModel):
    """Base: fields are environment variable names (upper case aliases), read once per cold start."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    @classmethod
    def from_env(cls) -> Self:
        return cls.model_validate(dict(os.environ))


class IdentityTables(EnvSettings):
    users_table: str = Field(alias="USERS_TABLE")
    sessions_table: str = Field(alias="SESSIONS_TABLE")


class TokenSettings(EnvSettings):
    signing_key_parameter: str = Field(alias="SIGNING_KEY_PARAMETER")
    issuer: str = Field(alias="JWT_ISSUER", default="https://tradestream.dev")
    audience: str = Field(alias="JWT_AUDIENCE", default="tradestream-api")
    access_ttl_seconds: int = Field(alias="ACCESS_TOKEN_TTL_SECONDS", default=900, gt=0)
    refresh_ttl_seconds: int = Field(alias="REFRESH_TOKEN_TTL_SECONDS", default=30 * 24 * 3600, gt=0)
    key_cache_seconds: int = Field(alias="SIGNING_KEY_CACHE_SECONDS", default=300, ge=0)


class AuthApiSettings(IdentityTables, TokenSettings):
    rate_limit_table: str = Field(alias="RATE_LIMIT_TABLE")
    login_rate_per_second: int = Field(alias="LOGIN_RATE_PER_SECOND", default=10, gt=0)
    login_burst: int = Field(alias="LOGIN_BURST", default=20, gt=0)


class AuthorizerSettings(TokenSettings):
    sessions_table: str = Field(alias="SESSIONS_TABLE")


class OrdersApiSettings(EnvSettings):
    orders_table: str = Field(alias="ORDERS_TABLE")
    lane_queue_url: str = Field(alias="LANE_QUEUE_URL")
    book_views_table: str = Field(alias="BOOK_VIEWS_TABLE")


class MatchingSettings(EnvSettings):
    book_log_table: str = Field(alias="BOOK_LOG_TABLE")
    snapshots_table: str = Field(alias="SNAPSHOTS_TABLE")
    book_views_table: str = Field(alias="BOOK_VIEWS_TABLE")
    events_stream: str = Field(alias="EVENTS_STREAM")
    lane_dlq_url: str = Field(alias="LANE_DLQ_URL")
    snapshot_every: int = Field(alias="SNAPSHOT_EVERY", default=100, gt=0)


class ProjectionSettings(EnvSettings):
    dlq_url: str = Field(alias="PROJECTION_DLQ_URL")


class OrderStatusSettings(ProjectionSettings):
    orders_table: str = Field(alias="ORDERS_TABLE")


class JournalSettings(ProjectionSettings):
    transactions_table: str = Field(alias="TRANSACTIONS_TABLE")
    transaction_counts_table: str = Field(alias="TRANSACTION_COUNTS_TABLE")


class PortfolioSettings(ProjectionSettings):
    positions_table: str = Field(alias="POSITIONS_TABLE")
    last_prices_table: str = Field(alias="LAST_PRICES_TABLE")


class MarketDataSettings(ProjectionSettings):
    candles_table: str = Field(alias="CANDLES_TABLE")
    trades_table: str = Field(alias="TRADES_TABLE")
    tickers_table: str = Field(alias="TICKERS_TABLE")
    trades_retention_days: int = Field(alias="TRADES_RETENTION_DAYS", default=30, gt=0)


class QueryApiSettings(EnvSettings):
    transactions_table: str = Field(alias="TRANSACTIONS_TABLE")
    transaction_counts_table: str = Field(alias="TRANSACTION_COUNTS_TABLE")
    positions_table: str = Field(alias="POSITIONS_TABLE")
    last_prices_table: str = Field(alias="LAST_PRICES_TABLE")
    candles_table: str = Field(alias="CANDLES_TABLE")
    trades_table: str = Field(alias="TRADES_TABLE")
    tickers_table: str = Field(alias="TICKERS_TABLE")


class ReconcilerSettings(EnvSettings):
    orders_table: str = Field(alias="ORDERS_TABLE")
    lane_queue_url: str = Field(alias="LANE_QUEUE_URL")
    # Longer than a normal trip through lane, matching and stream, so live orders are left alone.
    reconcile_after_seconds: int = Field(alias="RECONCILE_AFTER_SECONDS", default=60, ge=5)
