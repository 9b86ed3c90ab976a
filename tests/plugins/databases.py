"""A fresh database for a test or a test module: SQLite in a given folder, or, when
QUALIBENCH_TEST_PG names a PostgreSQL server, a database of its own created on that server and
dropped afterwards (so the suite runs unchanged on both).

Either empty (`fresh_database`: the code under test runs the Alembic migrations itself) or already
migrated (`migrated_database`): a copy of one template the session migrated once, a file copy on
SQLite and CREATE DATABASE ... TEMPLATE on PostgreSQL. A copy is its own database, so no state
passes between tests; it only saves running the same migrations again for every test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
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


def _admin_engine(admin: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(admin, isolation_level="AUTOCOMMIT")


def _pg_url(admin: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(admin).set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def _pg_database(admin: str, template: str | None = None) -> Iterator[str]:
    """Create a database of a unique name (copied from `template` if given); drop it after."""
    from sqlalchemy import text

    name = f"qbtest_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    eng = _admin_engine(admin)
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield name
    finally:
        dispose_engines()  # the test's own pooled connections first, or DROP waits on them
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


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
    with _pg_database(admin) as name:
        yield _pg_url(admin, name)


@contextlib.contextmanager
def migrated_template(sqlite_dir: Path) -> Iterator[str]:
    """Yield a template database migrated to head by Alembic: a SQLite file path, or the name
    of a PostgreSQL database (dropped after). Nothing may connect to it while it is copied."""
    from qualibench.db import get_engine

    admin = pg_admin_url()
    if admin is None:
        path = sqlite_dir / "template.sqlite"
        get_engine(f"sqlite:///{path}")
        dispose_engines()  # the last connection checkpoints the WAL into the file and removes it
        assert not Path(f"{path}-wal").exists(), "the template's WAL was not checkpointed"
        yield str(path)
        return
    with _pg_database(admin) as name:
        get_engine(_pg_url(admin, name))
        dispose_engines()
        yield name


@contextlib.contextmanager
def migrated_database(template: str, sqlite_dir: Path) -> Iterator[str]:
    """Yield the URL of a database of its own holding the current schema and no rows: a copy
    of `template` (from `migrated_template`)."""
    admin = pg_admin_url()
    if admin is None:
        path = sqlite_dir / "test.sqlite"
        shutil.copyfile(template, path)
        try:
            yield f"sqlite:///{path}"
        finally:
            dispose_engines()
        return
    with _pg_database(admin, template=template) as name:
        yield _pg_url(admin, name)
