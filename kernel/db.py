"""SQLAlchemy 2 async engine per service, bound to the service's own schema; the keyset
condition of a page in SQL; and what the database's refusals mean to a caller (the gRPC runtime
asks `refused_value`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import DataError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kernel import errors
from kernel.paging import PageRequest


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


def after_key(page: PageRequest, columns: str, types: Sequence[str], *,
              descending: bool = False) -> tuple[str, dict[str, Any]]:
    """SQL: the row comes after the page's key in the order of `columns` (e.g. "created_at, id";
    before it when `descending`), and the parameters it binds; TRUE on the first page. `types` are
    the SQL types of the key's parts, in order."""
    if page.after is None:
        return "TRUE", {}
    names = [f"after_{i}" for i in range(len(types))]
    key = ", ".join(f"CAST(:{name} AS {type_})" for name, type_ in zip(names, types, strict=True))
    return f"({columns}) {'<' if descending else '>'} ({key})", dict(zip(names, page.after, strict=True))


def refused_value(exc: Exception) -> errors.DomainError | None:
    """A value the database refuses (NUL in text, a number out of its range) is the caller's:
    a ValidationError quoting the first line of the refusal. None for any other exception.
    The gRPC runtime asks this of every exception no use case turned into a domain error."""
    if isinstance(exc, DBAPIError) and isinstance(exc.orig, DataError):
        reason = str(exc.orig).splitlines()[0] if str(exc.orig) else "value refused by the database"
        return errors.ValidationError(f"invalid value: {reason}")
    return None
