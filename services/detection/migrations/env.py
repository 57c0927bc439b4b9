"""Alembic environment: the shared runner, on the connection shared.db.migrate passes."""

from alembic import context

from shared.db import run_alembic_env

run_alembic_env(context)
