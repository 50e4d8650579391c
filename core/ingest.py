"""Scan a directory: register its image files as assets and queue them for embedding.

What gets queued: every newly registered file, and every already known file under the
root that has never been indexed (`indexed_at` is empty) and has no open job — so a scan
after a failed or interrupted run picks up what is missing, and a second scan of a fully
indexed directory queues nothing (and creates no session). Re-embedding indexed files is
what `retrain` is for.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from vectorctl.core.db.engine import transaction
from vectorctl.core.db.models import Category, ImageAsset, TrainingJob
from vectorctl.core.db.paths import inside
from vectorctl.core.errors import NotFoundError, ValidationError
from vectorctl.core.jobs import PENDING, RUNNING, queue_session
from vectorctl.core.progress import (
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    check_cancel,
    report,
)
from vectorctl.core.results import ScanResult

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".jfif"}
)
INSERT_BATCH = 1000


def scan(
    db: sessionmaker[Session],
    root: str | Path,
    *,
    category_id: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ScanResult:
    """Register the image files under `root` and queue a training session for them."""
    directory = validate_root(root)
    files = list(_image_files(directory, progress, cancel))
    with transaction(db) as session:
        if category_id is not None and session.get(Category, category_id) is None:
            raise NotFoundError(f"category {category_id} does not exist")
        known = _known_assets(session, directory)
        new = [f for f in files if f[0] not in known]
        new_ids = _register(session, new)
        unindexed = [asset_id for asset_id, indexed in known.values() if not indexed]
        to_queue = sorted(new_ids + _without_open_job(session, unindexed))
        session_id = None
        if to_queue:
            session_id = queue_session(
                session, f"scan {directory}", directory, category_id, to_queue
            )
    report(progress, ProgressEvent("scanning", len(files), len(files), f"{len(new)} new files"))
    return ScanResult(
        root=directory,
        found=len(files),
        registered=len(new),
        skipped=len(files) - len(new),
        queued=len(to_queue),
        session_id=session_id,
    )


def validate_root(root: str | Path) -> str:
    """An existing directory, as an absolute path without symlinks (how paths are stored)."""
    if not str(root).strip():
        raise ValidationError("scan root is empty: name a directory such as /photos/2024")
    path = Path(root).expanduser()
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise ValidationError(f"scan root {path} does not exist") from None
    if not resolved.is_dir():
        raise ValidationError(f"scan root {path} is not a directory")
    if resolved == Path(resolved.anchor):
        raise ValidationError("scanning / would register the whole machine: name a directory")
    return resolved.as_posix()


def _image_files(
    directory: str, progress: ProgressCallback | None, cancel: CancelToken | None
) -> Iterator[tuple[str, datetime, int]]:
    """(path, created time, size) of each image file, sorted; symlinked dirs are not followed.

    Linux keeps no creation time: the modification time stands in for it, as it does for
    photos copied from a camera.
    """
    seen = 0
    for current, dirs, names in os.walk(directory):
        dirs.sort()
        check_cancel(cancel, "scan")
        for name in sorted(names):
            if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            path = os.path.join(current, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue  # vanished or unreadable entry: not an asset
            created = getattr(stat, "st_birthtime", None) or stat.st_mtime
            yield Path(path).as_posix(), datetime.fromtimestamp(created, UTC), stat.st_size
            seen += 1
            if seen % 1000 == 0:
                report(progress, ProgressEvent("scanning", seen, None))


def _known_assets(db: Session, directory: str) -> dict[str, tuple[int, bool]]:
    """path -> (asset id, indexed?) for the assets already registered under `directory`."""
    rows = db.execute(
        select(ImageAsset.path, ImageAsset.id, ImageAsset.indexed_at).where(
            inside(ImageAsset.path, directory)
        )
    )
    return {path: (asset_id, indexed is not None) for path, asset_id, indexed in rows}


def _register(db: Session, files: list[tuple[str, datetime, int]]) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(files), INSERT_BATCH):
        rows = [
            {"path": path, "created_at": created, "file_size": size}
            for path, created, size in files[start : start + INSERT_BATCH]
        ]
        ids.extend(db.execute(insert(ImageAsset).returning(ImageAsset.id), rows).scalars())
    return ids


def _without_open_job(db: Session, asset_ids: list[int]) -> list[int]:
    """Drop assets that already wait in the queue (or are being embedded right now)."""
    if not asset_ids:
        return []
    busy: set[int] = set()
    for start in range(0, len(asset_ids), INSERT_BATCH):
        chunk = asset_ids[start : start + INSERT_BATCH]
        busy.update(
            db.execute(
                select(TrainingJob.asset_id).where(
                    TrainingJob.asset_id.in_(chunk), TrainingJob.status.in_((PENDING, RUNNING))
                )
            ).scalars()
        )
    return [a for a in asset_ids if a not in busy]
