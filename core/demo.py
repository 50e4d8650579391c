"""A demo library in the data directory, so every screen has something true to show.

Real image files (drawn with Pillow) in nested year/event directories are scanned and
embedded through the real pipeline, with explicitly random weights (no trained model can be
assumed on a demo machine; every evidence row says so). Then the library is given a history:
a retrained directory (a RESET session), audited deletions with backups, orphan vectors
(assets removed from the database, vectors left behind), missing vectors (a deleted
directory, and an inbox scanned but not embedded) and one damaged file whose job failed.

A marker file makes re-running safe: a built demo is reported, never built twice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import delete, func, select

from vectorctl.core.context import ServiceContext
from vectorctl.core.db.engine import transaction
from vectorctl.core.db.models import Category, ImageAsset, TrainingEvidence, TrainingJob
from vectorctl.core.db.paths import inside
from vectorctl.core.embedding import (
    RANDOM,
    RANDOM_LABEL,
    Embedder,
    EmbedderConfig,
    load_embedder,
    require_clip,
)
from vectorctl.core.ingest import scan
from vectorctl.core.jobs import FAILED
from vectorctl.core.orphans import asset_id_of
from vectorctl.core.progress import CancelToken, ProgressCallback, ProgressEvent, report
from vectorctl.core.results import DemoResult
from vectorctl.core.retrain import retrain
from vectorctl.core.store.base import F_ASSET_ID, Selector
from vectorctl.core.targets import Target, TargetKind
from vectorctl.core.worker import run_worker

DEMO_DIR = "demo-photos"
MARKER = ".vectorctl-demo"
EVENTS = {
    "2022": ("beach", "birthday", "hiking"),
    "2023": ("city-trip", "wedding", "snow"),
    "2024": ("garden", "concert", "road-trip"),
}
CATEGORIES = {"2022": "Family", "2023": "Travel", "2024": "Travel"}
REASON = "demo history"


def build_demo(
    service: ServiceContext,
    *,
    per_event: int = 30,
    embedder: Embedder | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DemoResult:
    """Build the demo library under `<data dir>/demo-photos` (about 300 images by default)."""
    service.require_writable("build the demo library")
    started = time.monotonic()
    root = (service.settings.data_dir / DEMO_DIR).resolve()
    if (root / MARKER).exists():
        return _summary(service, root, False, 0, RANDOM_LABEL, started)
    if embedder is None:
        require_clip()  # before the first file: no half-built demo without the clip extra

    report(progress, ProgressEvent("generating", 0, None, "drawing demo images"))
    _draw_library(root, per_event)
    (root / "2023" / "wedding" / "damaged.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    categories = _categories(service)
    for year in EVENTS:
        scan(service.db, root / year, category_id=categories[CATEGORIES[year]])

    if embedder is None:
        settings = service.settings
        embedder = load_embedder(EmbedderConfig(settings.clip_model, RANDOM, settings.device))
    store = service.store
    store.ensure_collection(embedder.dim, service.settings.distance)  # the demo's own model
    worked = run_worker(
        service.settings,
        db=service.db,
        store=store,
        embedder=embedder,
        progress=progress,
        cancel=cancel,
    )

    redone = retrain(
        service,
        str(root / "2022"),
        reason=f"{REASON}: new model",
        wait=True,
        embedder=embedder,
        progress=progress,
        cancel=cancel,
    )
    _delete(service, Target(TargetKind.DIRECTORY, str(root / "2023" / "snow")))
    with service.db() as db:
        one = db.scalars(
            select(ImageAsset.id)
            .where(ImageAsset.path.like("%/2024/garden/%"))
            .order_by(ImageAsset.path.desc())
            .limit(1)
        ).one()
    _delete(service, Target(TargetKind.ASSET, str(one)))
    _forget_assets(service, root / "2024" / "concert", count=5)

    _draw(root / "inbox", [f"new{i:02}.jpg" for i in range(max(3, per_event // 2))], seed=99)
    scan(service.db, root / "inbox")
    (root / MARKER).write_text("built by vectorctl demo\n")
    return _summary(
        service,
        root,
        True,
        worked.embedded + (redone.embedded or 0),
        embedder.weights_label,
        started,
    )


def _draw_library(root: Path, per_event: int) -> None:
    for year, events in EVENTS.items():
        for n, event in enumerate(events):
            names = [f"img{i:03}.jpg" for i in range(per_event)]
            _draw(root / year / event, names, seed=int(year) * 10 + n)


def _draw(directory: Path, names: Sequence[str], seed: int) -> None:
    """Small JPEGs with a sky, a ground and a few shapes, coloured per directory."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    base = [rng.randrange(60, 200) for _ in range(3)]
    for name in names:
        path = directory / name
        if path.exists():
            continue
        width, height = rng.choice([(160, 120), (120, 160), (160, 160)])
        image = Image.new("RGB", (width, height), tuple(min(255, c + 40) for c in base))
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, height * 2 // 3, width, height), fill=tuple(c // 2 for c in base))
        for _ in range(rng.randint(2, 5)):
            x, y, r = rng.randrange(width), rng.randrange(height), rng.randint(6, 30)
            colour = tuple(rng.randrange(256) for _ in range(3))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        image.save(path, quality=85)


def _categories(service: ServiceContext) -> dict[str, int]:
    with transaction(service.db) as db:
        ids = {}
        for name in sorted(set(CATEGORIES.values())):
            found = db.scalars(select(Category.id).where(Category.name == name)).first()
            if found is None:
                category = Category(name=name, description="demo library")
                db.add(category)
                db.flush()
                found = category.id
            ids[name] = found
        return ids


def _delete(service: ServiceContext, target: Target) -> None:
    service.delete(target, reason=REASON)


def _forget_assets(service: ServiceContext, directory: Path, count: int) -> None:
    """Remove some assets from the database (and their files) but not their vectors."""
    with transaction(service.db) as db:
        victims = db.execute(
            select(ImageAsset.id, ImageAsset.path)
            .where(inside(ImageAsset.path, str(directory)))
            .order_by(ImageAsset.id)
            .limit(count)
        ).all()
        ids = [v.id for v in victims]
        for table in (TrainingEvidence, TrainingJob):
            db.execute(delete(table).where(table.asset_id.in_(ids)))
        db.execute(delete(ImageAsset).where(ImageAsset.id.in_(ids)))
    for victim in victims:
        Path(victim.path).unlink(missing_ok=True)


def _summary(
    service: ServiceContext,
    root: Path,
    created: bool,
    embedded: int,
    weights: str,
    started: float,
) -> DemoResult:
    """The demo's figures as they are now, read from the deployment: the same whether it
    was built by this run or an earlier one."""
    under = inside(ImageAsset.path, str(root))
    with service.db() as db:
        assets = set(db.scalars(select(ImageAsset.id).where(under)))
        failed = db.scalar(
            select(func.count(TrainingJob.id))
            .join(ImageAsset, ImageAsset.id == TrainingJob.asset_id)
            .where(under, TrainingJob.status == FAILED)
        )
    with_vectors = {
        asset_id_of(record)
        for page in service.store.scroll(Selector(directory=str(root)), fields=[F_ASSET_ID])
        for record in page
    }
    return DemoResult(
        root=str(root),
        created=created,
        images=len(assets),
        embedded=embedded,
        failed=int(failed or 0),
        deletions=len(service.audit_log(limit=None)),
        vectors=service.store.count(Selector(directory=str(root))),
        orphan_vectors=service.find_orphans().count,
        missing_vectors=len(assets - with_vectors),
        weights=weights,
        seconds=round(time.monotonic() - started, 2),
    )
