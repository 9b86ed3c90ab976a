"""Database access: URL resolution, engine, schema migrations (Alembic), sessions."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError
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
        except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
            raise QualibenchError(
                f"the database URL (--db or ${DB_ENV}) is not valid: {exc}",
                "use a SQLAlchemy URL such as postgresql://user@host/db or sqlite:///path.sqlite",
            ) from None
        return chosen
    folder = (campaign_dir or Path.cwd()).resolve()
    return f"sqlite:///{folder / DEFAULT_DB_FILE}"


def redact_url(url: str) -> str:
    """Return `url` with any password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<invalid URL>"


SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_damage(path: Path) -> str | None:
    """Return why the SQLite file at `path` is damaged (bad header, truncated), or None.

    Reads the 100-byte header only: the page size and, when the header says it is valid,
    the database size in pages, which a truncated copy no longer holds.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            header = f.read(100)
    except FileNotFoundError:
        return None
    if size == 0:
        return None  # an empty file is a new database to SQLite
    if len(header) < 100 or not header.startswith(SQLITE_HEADER):
        return f"it is not a SQLite database ({size} bytes, no SQLite header)"
    page = int.from_bytes(header[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(header[28:32], "big")
    valid = header[24:28] == header[92:96]  # the in-header size is valid since SQLite 3.7.0
    if page < 512 or page & (page - 1):
        return f"its header holds an impossible page size ({page})"
    if size % page:
        return f"it is truncated ({size} bytes, not a whole number of {page}-byte pages)"
    if valid and pages and size < pages * page:
        return f"it is truncated ({size} bytes of the {pages * page} its header announces)"
    return None


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
        database = make_url(url).database
        damage = sqlite_damage(Path(database)) if database and database != ":memory:" else None
        if damage:
            raise QualibenchError(
                f"the database file {database} is damaged: {damage}",
                "restore it from a backup (the raw evidence in evidence/ is intact)")
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    try:
        engine = create_engine(url, **kwargs)
    except NoSuchModuleError:
        raise QualibenchError(
            f"the database URL (--db or ${DB_ENV}) names an unknown kind of database "
            f"{make_url(url).drivername!r}",
            "use postgresql://user@host/db or sqlite:///path.sqlite") from None
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
        except DatabaseError as exc:  # "file is not a database", "disk image is malformed"
            raise QualibenchError(
                f"the database {redact_url(url)} is damaged: {exc.orig}",
                "restore it from a backup; the raw evidence in evidence/ is intact",
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


_REVISION = re.compile(r"^(revision|down_revision)\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)


def _script_heads() -> set[str]:
    """Return the head revisions of the migration scripts, read with a regex (no Alembic).

    Loading Alembic and its scripts costs more than the rest of a `collect` with nothing
    new; this tells whether there is anything to apply at all.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        for key, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (revisions if key == "revision" else parents).add(value)
    return revisions - parents


def _at_head(engine: Engine) -> bool:
    """Say whether the database already carries every migration (False when unsure)."""
    heads = _script_heads()
    if not heads:
        return False
    try:
        with engine.connect() as conn:
            current = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except DatabaseError:  # no alembic_version table yet: a new database
        return False
    return current == heads


def upgrade(engine: Engine) -> None:
    """Apply every pending Alembic migration to the database behind `engine`."""
    if _at_head(engine):
        return
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


def is_postgres(bind: Engine | Session) -> bool:
    """Return True when `bind` talks to PostgreSQL (team coordination lives in the database)."""
    engine = bind if isinstance(bind, Engine) else bind.get_bind()
    return engine.dialect.name == "postgresql"


def insert_ignore(session: Session, model: type, rows: list[dict], *, keys: list[str] | None = None):
    """INSERT `rows`, skipping any that collides with a unique row already there (or being
    written by a concurrent transaction): a second insert of the same fact is a no-op.

    Returns the Result (rowcount = rows really inserted on both databases).
    """
    if not rows:
        return None
    table = model.__table__  # type: ignore[attr-defined]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table).on_conflict_do_nothing(index_elements=keys)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=keys)
    return session.execute(stmt, rows)


def insert_ignore_count(session: Session, model: type, rows: list[dict], *, keys: list[str],
                        name: str) -> int:
    """`insert_ignore` of many rows through `execute_many` (statement cached as `name`);
    return how many were really inserted."""
    if not rows:
        return 0
    table = model.__table__  # type: ignore[attr-defined]
    if session.get_bind().dialect.name == "postgresql":
        result = insert_ignore(session, model, rows, keys=keys)
        return result.rowcount if result is not None and result.rowcount >= 0 else len(rows)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return execute_many(session, name, sqlite_insert(table).on_conflict_do_nothing(index_elements=keys),
                        rows)


_DRIVER_SQL: dict[tuple, tuple[str, list]] = {}


def execute_many(session: Session, name: str, stmt: Any, rows: list[dict], *,
                 as_text: tuple[str, ...] = ()) -> int:
    """Execute `stmt` (an INSERT or UPDATE whose parameters are named by the keys of `rows`)
    once per row; return the rows it changed. On SQLite the statement is compiled once per
    `name` and given to the driver's executemany with each value put through its column's
    own bind processing (the UTC check, JSON, booleans): the same rows as session.execute
    writes, for a third of the processor time (SQLAlchemy's per-row parameter handling was
    most of recording a batch). Elsewhere session.execute (PostgreSQL's batched VALUES is
    faster than an executemany). Session hooks do not see these rows: not for the tables
    whose facts are fingerprinted (reply, score, probe). The JSON columns named in `as_text`
    are given as JSON text already (SQLite only), stored as they are."""
    if not rows:
        return 0
    conn = session.connection()
    dialect = conn.dialect
    if dialect.name != "sqlite":
        result = session.execute(stmt, rows)
        return result.rowcount if result.rowcount >= 0 else len(rows)
    keys = tuple(rows[0])
    compiled = _DRIVER_SQL.get((name, keys, as_text))
    if compiled is None:
        done = stmt.compile(dialect=dialect, column_keys=list(keys))
        order = list(done.positiontup or [])
        procs = []
        for bind in order:
            kind = done.binds[bind].type
            proc = None if bind in as_text else kind.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None and _is_utc_datetime(kind):
                proc = _sqlite_utc_text(kind, dialect)
            procs.append((bind, proc))
        compiled = _DRIVER_SQL[(name, keys, as_text)] = (str(done), procs)
    sql, procs = compiled
    result = conn.exec_driver_sql(sql, list(zip(*(_column(rows, key, proc) for key, proc in procs),
                                                 strict=True)))
    return result.rowcount if result.rowcount >= 0 else len(rows)


def _is_utc_datetime(kind: Any) -> bool:
    from .models import UTCDateTime

    return isinstance(kind, UTCDateTime)


def _sqlite_utc_text(kind: Any, dialect: Any) -> Any:
    """The bind processing of a UTCDateTime column on SQLite in one step: the column's own
    checks and conversion to UTC (process_bind_param), then the text SQLite's DATETIME
    writes ("YYYY-MM-DD HH:MM:SS.ffffff", which isoformat gives in C)."""
    to_utc = kind.process_bind_param

    def process(value: Any) -> Any:
        value = to_utc(value, dialect)
        return None if value is None else value.isoformat(" ", "microseconds")

    return process


def _column(rows: list[dict], key: str, proc: Any) -> list:
    """The bound values of one column of `rows`, a column at a time (the bind processors of
    time columns cost most): a value repeated from the row before -- a batch's collected_at,
    stored_at -- is converted once."""
    values = [row[key] for row in rows]
    if proc is None:
        return values
    out = []
    last: Any = _UNSET
    done: Any = None
    for value in values:
        if value is not last and (type(value) is not datetime or value != last):
            last, done = value, proc(value)
        out.append(done)
    return out


_UNSET = object()


def lock_key(*parts: object) -> int:
    """Return a signed 64-bit PostgreSQL advisory-lock key for `parts` (stable across machines)."""
    import hashlib

    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def advisory_lock(engine: Engine, key: int) -> Iterator[bool]:
    """Try a session-level PostgreSQL advisory lock on its own connection; yield whether it was won.

    The lock lives as long as the connection: a process killed with -9 loses it with its socket,
    so a lock held means its holder is alive. Other databases always yield True (the caller
    keeps its file lock there).
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()


def lock_is_free(engine: Engine, key: int) -> bool:
    """Return True when nobody holds advisory lock `key` (its holder, if any, has died)."""
    with advisory_lock(engine, key) as got:
        return got


def skip_locked(query):  # type: ignore[no-untyped-def]
    """Return `query` locking its rows FOR UPDATE SKIP LOCKED (PostgreSQL; elsewhere unchanged):
    rows another machine is working on are left out instead of waited for."""
    return query.with_for_update(skip_locked=True)
