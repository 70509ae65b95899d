"""Alembic environment of the webhooks context (shared body in kernel.alembic_env)."""

from kernel.alembic_env import run

run()
