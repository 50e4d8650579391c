"""Engines and sessions for SQLite and PostgreSQL (psycopg 3), with operator-readable failures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vectorctl.core.errors import ConnectionFailed, ValidationError
from vectorctl.core.settings import hide_secrets, mask_url


def _normalise_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3 here (the service's URLs lack a driver)."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def create_db_engine(url: str) -> Engine:
    """Create an engine; refuses malformed URLs and creates the SQLite file's directory."""
    url = _normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValidationError(f"database URL {mask_url(url)!r} is not a valid URL") from exc
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    elif parsed.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": 5}
        kwargs["pool_pre_ping"] = True
    else:
        raise ValidationError(
            f"database URL {mask_url(url)!r}: only sqlite:/// and postgresql:// are supported"
        )
    try:
        engine = create_engine(url, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise ValidationError(f"database URL {mask_url(url)!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Foreign keys give the service's ON DELETE CASCADE; WAL lets readers (the TUI) run
    # while a worker writes.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def check_connection(engine: Engine) -> None:
    """Raise ConnectionFailed naming the (masked) database when it cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        url = engine.url.render_as_string(hide_password=False)
        raise ConnectionFailed(
            f"database {mask_url(url)} is unreachable: {hide_secrets(_first_line(exc), url)}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    """The driver's message folded onto one line (psycopg spreads one cause over several)."""
    msg = " ".join(str(getattr(exc, "orig", None) or exc).split())
    return (msg[:300] + "…" if len(msg) > 300 else msg) or type(exc).__name__


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session
