"""The env.py body every context's migrations share (they call run())."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text


def run() -> None:
    config = context.config
    connection = config.attributes["connection"]
    schema = config.attributes["schema"]
    connection.execute(text(f'SET search_path TO "{schema}", public'))
    context.configure(
        connection=connection,
        version_table_schema=schema,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()
