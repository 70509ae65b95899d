"""SQLAlchemy 2 async engine per service, bound to the service's own schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


def sqlalchemy_url(url: str) -> str:
    """postgresql://… → postgresql+psycopg://… (psycopg 3 for sync and async alike)."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    raise ValueError(f"unsupported database url: {url}")


def libpq_url(url: str) -> str:
    """The plain libpq form psycopg.connect() takes."""
    return "postgresql://" + sqlalchemy_url(url)[len("postgresql+psycopg://"):]


def create_engine(url: str, schema: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine whose connections see only `schema` (plus public) on their search path."""
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"options": f"-csearch_path={schema},public"},
    )


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.begin() as conn:
        yield conn
