"""Shared fixtures. Area-specific fixtures live in tests/plugins/*.py (loaded automatically).

Database: every test gets a fresh database. SQLite in tmp_path by default; when
QUALIBENCH_TEST_PG is set (a PostgreSQL server URL, e.g. postgresql://qb@127.0.0.1:5432/postgres)
each test gets its own freshly created PostgreSQL database instead, so the whole suite runs on both.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from qualibench.db import dispose_engines

_PLUGINS = Path(__file__).parent / "plugins"
pytest.register_assert_rewrite("tests.plugins")


def _importable_plugins() -> list[str]:
    # A fixture module that fails to import is reported once instead of breaking every test.
    import importlib
    import warnings

    names = []
    for path in sorted(_PLUGINS.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        name = f"tests.plugins.{path.stem}"
        try:
            importlib.import_module(name)
        except Exception as exc:
            warnings.warn(f"fixture module {name} not loaded: {exc}", stacklevel=1)
            continue
        names.append(name)
    return names


pytest_plugins = _importable_plugins()

FIXTURES = Path(__file__).parent / "fixtures"
PG_ENV = "QUALIBENCH_TEST_PG"


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        return None
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@pytest.fixture
def db_url(tmp_path: Path):
    """A URL to an empty database of its own (SQLite, or PostgreSQL when QUALIBENCH_TEST_PG is set)."""
    admin = _pg_admin_url()
    if admin is None:
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        dispose_engines()
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"qbtest_{uuid.uuid4().hex[:12]}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        dispose_engines()
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


@pytest.fixture
def on_postgres() -> bool:
    return _pg_admin_url() is not None


@pytest.fixture(autouse=True)
def _no_ambient_db_url(monkeypatch):
    """Tests pass URLs explicitly; an analyst's $QUALIBENCH_DB_URL must not leak in."""
    monkeypatch.delenv("QUALIBENCH_DB_URL", raising=False)
