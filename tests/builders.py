"""Build small, exact deployments for tests: database rows and points, written for real."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from vectorctl.core.db.models import Category, ImageAsset, TrainingJob, TrainingSession
from vectorctl.core.paths import ancestor_dirs, parent_dir
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings, load_settings
from vectorctl.core.store.base import Record

VECTOR_SIZE = 8
STORE_SETTING = {"local": "qdrant_path", "edge": "qdrant_edge"}  # the setting naming its directory
# The library fault tests kill processes in (`deployment` in conftest): 6 points to keep,
# 12 under /lib/go in two directories; its last point has only the service's payload, and
# one more point has a UUID id.
FAULT_LIBRARY = [f"/lib/keep/{i:02d}.jpg" for i in range(6)] + [
    f"/lib/go/{sub}/{i:02d}.jpg" for sub in ("a", "b") for i in range(6)
]
# The library the command-line tests run on (`populated` in conftest).
CLI_LIBRARY = ["/photos/2024/a.jpg", "/photos/2024/b.jpg", "/photos/2024-old/c.jpg"]


def deployment_settings(base: Path, store_engine: str = "edge", **values: object) -> Settings:
    """The settings of a deployment that is the test's alone: nothing is read from the
    environment or a profile (a developer's VECTORCTL_* must not reach a test), and its
    database, store and data directory are under `base`. `values` replace any of them as flags
    do; with a `qdrant_url` the deployment is on that server instead of an embedded store."""
    store = {} if "qdrant_url" in values else {STORE_SETTING[store_engine]: str(base / "store")}
    return load_settings(
        {
            "database_url": f"sqlite:///{base / 'vectorctl.sqlite3'}",
            **store,
            "data_dir": str(base / "data"),
            "operator": "tester@test",
            "vector_size": VECTOR_SIZE,
            **values,
        },
        env={},
        use_profile=False,
    )


def vector_for(seed: int | str, size: int = VECTOR_SIZE) -> list[float]:
    """A deterministic unit vector per seed (float32-exact values)."""
    h = uuid.uuid5(uuid.NAMESPACE_URL, str(seed)).int
    raw = [((h >> (i * 7)) % 97) / 97.0 + 0.01 for i in range(size)]
    norm = math.sqrt(sum(v * v for v in raw))
    return np.asarray([v / norm for v in raw], dtype=np.float32).tolist()


def tool_payload(asset_id: int, path: str, **extra: Any) -> dict[str, Any]:
    """The payload vectorctl writes: the service's fields plus ancestors and parent."""
    return {
        "asset_id": str(asset_id),
        "path": path,
        "created_at": "2024-05-01T12:00:00+00:00",
        "dirs": ancestor_dirs(path),
        "dir": parent_dir(path),
        **extra,
    }


def legacy_payload(asset_id: int, path: str, **extra: Any) -> dict[str, Any]:
    """The image-search service's original payload only (no ancestors)."""
    return {"asset_id": str(asset_id), "path": path, **extra}


@dataclass
class Library:
    """What a test built, to compare against."""

    assets: dict[str, int] = field(default_factory=dict)  # path -> asset id
    points: dict[int | str, Record] = field(default_factory=dict)


def add_assets(service: VectorService, paths: list[str]) -> dict[str, int]:
    with service.db.begin() as db:
        rows = [ImageAsset(path=p) for p in paths]
        db.add_all(rows)
        db.flush()
        return {r.path: r.id for r in rows}


def add_points(service: VectorService, records: list[Record]) -> None:
    service.store.upsert(records)


def index_assets(
    service: VectorService,
    paths: list[str],
    *,
    legacy: bool = False,
    **extra: Any,
) -> dict[str, int]:
    """Register assets and give each a point whose id is the asset id."""
    ids = add_assets(service, paths)
    make = legacy_payload if legacy else tool_payload
    add_points(
        service,
        [Record(id=i, payload=make(i, p, **extra), vector=vector_for(i)) for p, i in ids.items()],
    )
    return ids


def add_category(service: VectorService, name: str) -> int:
    with service.db.begin() as db:
        row = Category(name=name)
        db.add(row)
        db.flush()
        return row.id


def add_session(
    service: VectorService,
    directory: str,
    asset_ids: list[int],
    *,
    category_id: int | None = None,
    completed_at: datetime | None = None,
    status: str = "COMPLETED",
) -> int:
    with service.db.begin() as db:
        session = TrainingSession(
            directory_path=directory,
            category_id=category_id,
            status=status,
            total_images=len(asset_ids),
            completed_at=completed_at or datetime(2024, 6, 1, tzinfo=UTC),
        )
        db.add(session)
        db.flush()
        db.add_all(
            TrainingJob(session_id=session.id, asset_id=a, status="COMPLETED") for a in asset_ids
        )
        return session.id


def delete_asset_rows(service: VectorService, asset_ids: list[int]) -> None:
    """Remove assets from the database only, leaving their points behind as orphans."""
    with service.db.begin() as db:
        for a in asset_ids:
            row: Any = db.get(ImageAsset, a)
            db.delete(row)
