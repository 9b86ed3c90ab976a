"""Shared fixtures. Area-specific fixtures live in tests/plugins/*.py (loaded automatically).

Database: every test gets a fresh database. SQLite in tmp_path by default; when
QUALIBENCH_TEST_PG is set (a PostgreSQL server URL, e.g. postgresql://qb@127.0.0.1:5432/postgres)
each test gets its own freshly created PostgreSQL database instead, so the whole suite runs on both.
`db_url` holds the current schema (a copy of a template migrated once per session); `empty_db_url`
is empty, for tests of what the migrations themselves do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_PLUGINS = Path(__file__).parent / "plugins"
pytest.register_assert_rewrite("tests.plugins")

from tests.plugins.databases import (  # noqa: E402 (after the rewrite hook)
    fresh_database,
    migrated_database,
    migrated_template,
    pg_admin_url,
)


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


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory):
    """One database migrated by Alembic per test session, copied by `db_url` (never used itself)."""
    with migrated_template(tmp_path_factory.mktemp("template-db")) as template:
        yield template


@pytest.fixture
def db_url(tmp_path: Path, _migrated_template: str):
    """A URL to a database of its own with the current schema and no rows (SQLite, or PostgreSQL
    when QUALIBENCH_TEST_PG is set): a copy of the session's migrated template."""
    with migrated_database(_migrated_template, tmp_path) as url:
        yield url


@pytest.fixture
def empty_db_url(tmp_path: Path):
    """A URL to an empty database of its own, not migrated: the code under test migrates it."""
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def on_postgres() -> bool:
    return pg_admin_url() is not None


@pytest.fixture(autouse=True)
def _no_ambient_db_url(monkeypatch):
    """Tests pass URLs explicitly; an analyst's $QUALIBENCH_DB_URL must not leak in."""
    monkeypatch.delenv("QUALIBENCH_DB_URL", raising=False)
