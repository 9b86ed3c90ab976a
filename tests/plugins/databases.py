"""A fresh, empty database for a test or a test module: SQLite in a given folder, or, when
QUALIBENCH_TEST_PG names a PostgreSQL server, a database of its own created on that server and
dropped afterwards (so the suite runs unchanged on both)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from qualibench.db import dispose_engines

PG_ENV = "QUALIBENCH_TEST_PG"


def pg_admin_url() -> str | None:
    """The PostgreSQL server URL tests run on (psycopg driver), or None for SQLite."""
    url = os.environ.get(PG_ENV)
    if not url:
        return None
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@contextlib.contextmanager
def fresh_database(sqlite_dir: Path) -> Iterator[str]:
    """Yield the URL of an empty database, removed (PostgreSQL) or left in `sqlite_dir` after."""
    admin = pg_admin_url()
    if admin is None:
        try:
            yield f"sqlite:///{sqlite_dir / 'test.sqlite'}"
        finally:
            dispose_engines()
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"qbtest_{uuid.uuid4().hex[:12]}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        dispose_engines()  # the test's own pooled connections first, or DROP waits on them
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()
