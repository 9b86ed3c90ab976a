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
import queue
import shutil
import threading
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

    name = _unique_name()
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


class _Copies:
    """Copies of one PostgreSQL template, made ahead and dropped by one background thread.

    While a test runs, the thread drops the previous test's database and creates the next
    one's, so a test waits for neither. Each copy is used by one test only, then dropped.
    """

    def __init__(self, admin: str, template: str) -> None:
        self.admin, self.template = admin, template
        self.ready: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.jobs: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self.failed_drops: list[str] = []
        self.failed_creates: list[str] = []
        self.thread = threading.Thread(target=self._work, name=f"copies-of-{template}", daemon=True)
        self.thread.start()
        self.jobs.put(("create", _unique_name()))

    def _work(self) -> None:
        from sqlalchemy import text

        eng = _admin_engine(self.admin)
        try:
            while (job := self.jobs.get()) is not None:
                verb, name = job
                try:
                    with eng.connect() as c:
                        if verb == "create":
                            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
                            self.ready.put(name)
                        else:
                            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                except Exception as exc:  # named by take() (a create) or by close() (a drop)
                    (self.failed_creates if verb == "create" else self.failed_drops).append(f"{name}: {exc}")
        finally:
            eng.dispose()

    def take(self) -> str:
        """Return the name of a new copy of the template for one test.

        One create is always queued ahead of each take (the first by __init__), so this waits
        at most for that one, and queues the next test's, made while this test runs.
        """
        self.jobs.put(("create", _unique_name()))
        while True:
            try:
                return self.ready.get(timeout=1)
            except queue.Empty:
                if self.failed_creates:
                    raise RuntimeError(f"cannot copy the template database: {self.failed_creates[-1]}") from None
                if not self.thread.is_alive():
                    raise RuntimeError("the thread that copies the template database stopped") from None

    def give_back(self, name: str) -> None:
        """Drop the test's database in the background (its connections were closed first)."""
        self.jobs.put(("drop", name))

    def close(self) -> None:
        """Drop the copies made ahead and not used, and wait for every pending drop."""
        self.jobs.put(None)
        self.thread.join()
        leftovers = []
        while True:
            try:
                leftovers.append(self.ready.get_nowait())
            except queue.Empty:
                break
        _drop(self.admin, leftovers)
        if self.failed_drops:
            raise RuntimeError("test databases not dropped: " + "; ".join(self.failed_drops))


_COPIES: dict[str, _Copies] = {}


def _unique_name() -> str:
    return f"qbtest_{uuid.uuid4().hex[:12]}"


def _drop(admin: str, names: list[str]) -> None:
    from sqlalchemy import text

    eng = _admin_engine(admin)
    try:
        with eng.connect() as c:
            for name in names:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        eng.dispose()


@contextlib.contextmanager
def migrated_template(sqlite_dir: Path) -> Iterator[str]:
    """Yield a template database migrated to head by Alembic: a SQLite file path, or the name
    of a PostgreSQL database (dropped after, with every copy). Nothing connects to it after."""
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
        _COPIES[name] = copies = _Copies(admin, name)
        try:
            yield name
        finally:
            del _COPIES[name]
            copies.close()


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
    copies = _COPIES[template]
    name = copies.take()
    try:
        yield _pg_url(admin, name)
    finally:
        dispose_engines()  # the test's own pooled connections first, or DROP waits on them
        copies.give_back(name)
