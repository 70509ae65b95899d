"""Alembic environment of the execution context (shared body in kernel.alembic_env)."""

from kernel.alembic_env import run

run()
