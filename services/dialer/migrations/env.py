"""Alembic environment of the dialer context (shared body in kernel.alembic_env)."""

from kernel.alembic_env import run

run()
