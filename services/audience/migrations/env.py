"""Alembic environment of the audience context (shared body in kernel.alembic_env)."""

from kernel.alembic_env import run

run()
