"""Alembic environment: runs migrations on the connection handed over in ``config.attributes``."""

from __future__ import annotations

from typing import Any

from alembic import context


def _run(config: Any) -> None:
    context.configure(connection=config.attributes["connection"], target_metadata=None,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


try:
    _config: Any = context.config
except AttributeError:  # imported outside an Alembic run (doctest collection)
    _config = None
if _config is not None:
    _run(_config)
