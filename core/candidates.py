"""What shell completion offers: directories and ids that start with what was typed, read
from the database only (an embedded store is locked by whoever has it open, and a Tab must
not wait for it, nor settle anyone's interrupted operations)."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from vectorctl.core.db import models
from vectorctl.core.paths import ancestor_dirs

# The id column each kind completes.
ID_COLUMNS = {
    "session": models.TrainingSession.id,
    "category": models.Category.id,
    "audit": models.VectorDeletionLog.id,
}


def candidates(engine: Engine, kind: str, typed: str, limit: int) -> list[str]:
    """`kind` is "dir" or a key of ID_COLUMNS; ids newest first, directories sorted."""
    with Session(engine) as db:
        if kind == "dir":
            found: set[str] = set()
            for (directory,) in db.execute(select(models.DirectoryAssets.directory).distinct()):
                found.update(ancestor_dirs(str(directory) + "x"))
            return sorted(d for d in found if d.startswith(typed))[:limit]
        column = ID_COLUMNS[kind]
        ids = db.scalars(select(column).order_by(column.desc()))
        return [str(i) for i in ids if str(i).startswith(typed)][:limit]
