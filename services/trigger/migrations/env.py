"""Alembic environment of the trigger context (shared body in kernel.alembic_env)."""

from kernel.alembic_env import run

run()
