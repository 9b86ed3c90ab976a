"""Database access: URL resolution, engine, schema migrations (Alembic), sessions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session, create_engine

from .errors import QualibenchError

DB_ENV = "QUALIBENCH_DB_URL"
DEFAULT_DB_FILE = "qualibench.sqlite"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def resolve_url(campaign_dir: Path | None = None, url: str | None = None) -> str:
    """Return the database URL: explicit `url`, then $QUALIBENCH_DB_URL, then the campaign's file."""
    chosen = url or os.environ.get(DB_ENV)
    if chosen:
        if chosen.startswith("postgresql://"):
            chosen = "postgresql+psycopg://" + chosen[len("postgresql://") :]
        try:
            make_url(chosen)
        except ArgumentError as exc:
            raise QualibenchError(
                f"database URL is not valid: {exc}",
                "use a SQLAlchemy URL such as postgresql://user@host/db or sqlite:///path.sqlite",
            ) from None
        return chosen
    folder = (campaign_dir or Path.cwd()).resolve()
    return f"sqlite:///{folder / DEFAULT_DB_FILE}"


def redact_url(url: str) -> str:
    """Return `url` with any password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


_ENGINES: dict[str, Engine] = {}


def get_engine(url: str, *, migrate: bool = True) -> Engine:
    """Return a (cached) engine for `url`, with the schema brought up to date."""
    if url in _ENGINES:
        return _ENGINES[url]
    kwargs: dict = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    if migrate:
        try:
            upgrade(engine)
        except OperationalError as exc:
            raise QualibenchError(
                f"cannot open the database {redact_url(url)}: {exc.orig}",
                f"check that the server runs and the URL in --db or ${DB_ENV} is right",
            ) from None
    _ENGINES[url] = engine
    return engine


def dispose_engines() -> None:
    """Close every cached engine (tests, and before forking)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


def alembic_config(engine: Engine):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Apply every pending Alembic migration to the database behind `engine`."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """Yield a session committed on success and rolled back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
