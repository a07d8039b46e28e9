"""Fixtures: a store on SQLite (temp dir) and on the real PostgreSQL (a fresh schema per test),
a client running against the ASGI app in-process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _pg_url() -> str:
    import sqlalchemy as sa

    schema = "qv_test_" + uuid.uuid4().hex[:10]
    try:
        eng = sa.create_engine(PG, connect_args={"connect_timeout": 2})
        with eng.begin() as c:
            c.exec_driver_sql(f"CREATE SCHEMA {schema}")
        eng.dispose()
    except Exception as exc:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 unreachable: {exc}")
    return f"{PG}?options=-csearch_path%3D{schema}"


def _drop(url: str) -> None:
    import sqlalchemy as sa

    schema = url.rsplit("%3D", 1)[1]
    eng = sa.create_engine(PG)
    with eng.begin() as c:
        c.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: Any, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cloud.db'}"
        return
    url = _pg_url()
    yield url
    _drop(url)


@pytest.fixture
def store(db_url: str) -> Iterator[Any]:
    from qvalley.cloud.store import Store, migrate

    s = Store(db_url, lease_seconds=1.0)
    migrate(s.engine)
    yield s
    s.close()


BELL3 = ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\n'
         'c = measure q;\n')
X2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nx q[1];\nmeasure q -> c;\n'
