"""Alembic migrations of the cloud store, shipped in the package and applied on first start."""
