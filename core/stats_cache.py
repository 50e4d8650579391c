"""A maintained copy of the directory statistics, trusted only while cheap fingerprints of
both sides are unchanged.

Computing statistics reads a facet and the per-directory asset counts; reading this copy
costs one exact point count and two small aggregate queries. A change made by another writer
moves the point count or the database aggregates and so invalidates the copy; vectorctl's own
mutations clear it outright. (A foreign change that keeps every one of these figures equal,
such as moving one point between directories, is only seen by a fresh computation: the
console's refresh asks for one.)
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vectorctl.core.db.models import DirectoryAssets, TrainingSession
from vectorctl.core.results import DirectoryStats
from vectorctl.core.store.base import VectorStore

FORMAT = 5


def fingerprint(store: VectorStore, db: Session) -> dict[str, Any]:
    """What the rows depend on, cheaply: the point count; the row count and highest id of
    the per-directory asset counts (every write to `image_assets` adds a row there through
    the triggers, and folding them adds rows with new ids: no asset is read); and the
    sessions' aggregates (a small table). `indexed_at` is not an input of any row."""
    assets = db.execute(select(func.count(), func.max(DirectoryAssets.id))).one()
    sessions = db.execute(
        select(
            func.count(),
            func.max(TrainingSession.id),
            func.max(TrainingSession.completed_at),
            func.max(TrainingSession.reset_at),
        )
    ).one()
    return {
        "format": FORMAT,
        "points": store.count(),
        "assets": [_plain(v) for v in assets],
        "sessions": [_plain(v) for v in sessions],
    }


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class StatsCache:
    def __init__(self, directory: Path, deployment: str):
        key = hashlib.sha256(deployment.encode()).hexdigest()[:16]
        self.path = directory / f"stats-{key}.json"

    def get(self, fp: dict[str, Any]) -> list[DirectoryStats] | None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if data.get("fingerprint") != fp:
            return None
        return [
            DirectoryStats(
                path, vectors, direct, assets, sessions, _time(last), own, missing, orphans
            )
            for path, vectors, direct, assets, sessions, last, own, missing, orphans in data["rows"]
        ]

    def put(self, fp: dict[str, Any], rows: list[DirectoryStats]) -> None:
        """Best effort: a data directory that cannot be written only costs speed. Rows are
        stored as plain lists: building a dict per row cost a quarter of a cold open."""
        table = [
            [
                r.path,
                r.vector_count,
                r.direct_vector_count,
                r.asset_count,
                r.session_count,
                r.last_trained_at.isoformat() if r.last_trained_at else None,
                r.direct_asset_count,
                r.missing_count,
                r.orphan_count,
            ]
            for r in rows
        ]
        payload = json.dumps({"fingerprint": fp, "rows": table})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(f".{os.getpid()}.partial")
            partial.write_text(payload)
            partial.replace(self.path)
        except OSError:
            pass

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
