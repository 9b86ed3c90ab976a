"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import qualibench.models  # noqa: F401
from qualibench.db import get_engine
from qualibench.models import Campaign


def test_migrations_match_the_models(empty_db_url):
    engine = get_engine(empty_db_url)  # an empty database: get_engine runs every migration here
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert diff == [], "models changed without a migration: regenerate qualibench/migrations/versions"


def test_naive_datetimes_are_refused(db_url):
    engine = get_engine(db_url)
    from sqlmodel import Session

    with Session(engine) as s:
        s.add(Campaign(slug="x", name="x", created_at=datetime(2026, 1, 1)))  # noqa: DTZ001
        with pytest.raises(Exception, match="naive datetime"):
            s.commit()
