"""Shell completion of what is cheap to know: directories and ids, read from the database
only (the vector store, which an embedded engine locks, is never opened for a Tab).

Enabled with click's mechanism, e.g. for bash:
    eval "$(_VECTORCTL_COMPLETE=bash_source vectorctl)"
Any failure (no database yet, a wrong URL) completes nothing rather than print an error
into the operator's command line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem
from sqlalchemy import select
from sqlalchemy.orm import Session

LIMIT = 100  # more than a screen of candidates helps nobody; type more first


def _with_database(ctx: click.Context, query: Callable[[Session], list[str]]) -> list[str]:
    from core.db.engine import create_db_engine
    from core.settings import load_settings

    root = ctx.find_root()
    options: dict[str, Any] = dict(root.params)
    profile = options.pop("profile", None)
    for name in ("verbose", "quiet"):
        options.pop(name, None)
    try:
        settings = load_settings(options, profile=Path(profile) if profile else None)
        engine = create_db_engine(settings.database_url)
        try:
            with Session(engine) as db:
                return query(db)
        finally:
            engine.dispose()
    except Exception:
        return []


def directories(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Directories holding assets, at any depth, that start with what was typed."""
    from core.db.models import DirectoryAssets
    from core.paths import ancestor_dirs

    def query(db: Session) -> list[str]:
        found: set[str] = set()
        for (directory,) in db.execute(select(DirectoryAssets.directory).distinct()):
            found.update(ancestor_dirs(str(directory) + "x"))
        return sorted(d for d in found if d.startswith(incomplete))[:LIMIT]

    return [CompletionItem(d) for d in _with_database(ctx, query)]


def _ids(model: str, column: str = "id") -> Callable[..., list[CompletionItem]]:
    def complete(
        ctx: click.Context, _param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        from core.db import models

        table = getattr(models, model)

        def query(db: Session) -> list[str]:
            ids = db.scalars(select(getattr(table, column)).order_by(getattr(table, column).desc()))
            return [str(i) for i in ids if str(i).startswith(incomplete)][:LIMIT]

        return [CompletionItem(i) for i in _with_database(ctx, query)]

    return complete


sessions = _ids("TrainingSession")
categories = _ids("Category")
audit_entries = _ids("VectorDeletionLog")


def target_values(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The VALUE of `preview`/`delete KIND VALUE`: by its kind (assets are too many)."""
    kind = ctx.params.get("kind")
    complete = {"dir": directories, "session": sessions, "category": categories}.get(str(kind))
    return complete(ctx, param, incomplete) if complete else []
