"""Alembic environment of the program context (shared body in kernel.alembic_env)."""

from kernel.alembic_env import run

run()
