"""Schema migrations: one Alembic history per bounded context, each in its own schema.

`services/<context>/migrations/versions/*.py` hold the revisions; the version table lives
in the context's schema. An advisory lock makes concurrent replicas migrate one at a time.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, text

from kernel.db import sqlalchemy_url

CONTEXTS = ("account", "audience", "dialer", "program", "execution", "trigger", "webhooks")
_ROOT = Path(__file__).resolve().parent.parent
_LOCK_ID = 0x0B0B0B  # one advisory lock for all migrations of the database


def _config(context: str, connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_ROOT / "services" / context / "migrations"))
    cfg.attributes["connection"] = connection
    cfg.attributes["schema"] = context
    return cfg


def upgrade(database_url: str, contexts: tuple[str, ...] | list[str] = CONTEXTS) -> None:
    engine = create_engine(sqlalchemy_url(database_url), future=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
            conn.commit()
            try:
                for context in contexts:
                    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{context}"'))
                    conn.commit()
                    command.upgrade(_config(context, conn), "head")
                    conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
                conn.commit()
    finally:
        engine.dispose()
