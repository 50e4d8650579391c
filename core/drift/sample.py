"""The sampled check (reference 002's reconciliation job): database rows drawn at random,
each compared with its point, and the drift rate estimated with its confidence interval.

Rows are drawn uniformly from assets and face rows together (each population gets its share
of the sample); a sampled asset's point is read by id (the service keys points by asset
id), else found by its `asset_id` payload. Points without a row cannot be drawn from the
database: orphans are what the exact check counts.
"""

from __future__ import annotations

import random
import time
from collections import Counter

from sqlalchemy.orm import Session

from vectorctl.core.drift.report import SAMPLES_PER_KIND, DriftEstimate, DriftItem, RateEstimate
from vectorctl.core.drift.rows import (
    AssetRow,
    Catalog,
    FaceRow,
    FacesTable,
    asset_count,
    asset_id_limit,
    random_assets,
)
from vectorctl.core.drift.rules import (
    CATEGORY,
    FACES,
    FACES_MISSING,
    FACES_ORPHANS,
    MISSING,
    ORPHANS,
    PATH,
    Finding,
    category_finding,
    faces_finding,
    path_finding,
    wanted_category,
)
from vectorctl.core.drift.scan import NO_FACES_TABLE
from vectorctl.core.orphans import asset_id_of
from vectorctl.core.store.base import (
    F_ASSET_ID,
    F_CATEGORY_ID,
    F_PATH,
    Record,
    Selector,
    VectorStore,
)

NOT_SAMPLED = "points without a database row are not drawn by a sample: the exact check counts them"


def estimate(
    images: VectorStore,
    faces: VectorStore | None,
    db: Session,
    *,
    size: int,
    kinds: tuple[str, ...],
    seed: int | None = None,
) -> DriftEstimate:
    """Draw `size` rows (all of them when there are fewer) and estimate, for `kinds`, the
    share whose point disagrees. `seed` makes the draw of assets repeatable (face rows are
    drawn in the database's random order)."""
    started = time.perf_counter()
    skipped = {k: NOT_SAMPLED for k in (ORPHANS, FACES_ORPHANS) if k in kinds}
    image_kinds = [k for k in (PATH, CATEGORY, MISSING) if k in kinds]
    face_kinds = [k for k in (FACES, FACES_MISSING) if k in kinds]
    table = FacesTable.find(db) if face_kinds else None
    if face_kinds and table is None:
        skipped.update({k: NO_FACES_TABLE for k in face_kinds})
        face_kinds = []
    assets = asset_count(db) if image_kinds else 0
    face_rows = table.count(db) if table is not None and face_kinds else 0
    population = assets + face_rows
    share = round(size * assets / population) if population else 0
    rng = random.Random(seed)

    found: Counter[str] = Counter()
    samples: dict[str, list[DriftItem]] = {k: [] for k in kinds}
    drifted = missing = 0

    def record(item: DriftItem) -> None:
        found[item.kind] += 1
        if len(samples[item.kind]) < SAMPLES_PER_KIND:
            samples[item.kind].append(item)

    drawn_assets: list[AssetRow] = []
    if image_kinds:
        catalog = Catalog.read(db) if CATEGORY in kinds else None
        limit = asset_id_limit(db)
        drawn_assets = random_assets(db, min(share, assets), rng, catalog is not None, limit)
        points = _points_of(images, drawn_assets)
        for row in drawn_assets:
            asset, path = row[0], row[1]
            point = points.get(asset)
            if point is None:
                missing += 1
                if MISSING in kinds:
                    record(DriftItem(MISSING, None, F_ASSET_ID, str(asset), None, path))
                continue
            findings = _image_findings(point, row, kinds, catalog)
            drifted += bool(findings)
            for f in findings:
                record(DriftItem(f.kind, point.id, f.field, f.database, f.payload, path))

    drawn_faces: list[FaceRow] = []
    if table is not None:
        drawn_faces = table.random(db, min(size - len(drawn_assets), face_rows))
        keys = [f.key for f in drawn_faces]
        by_key = {r.id: r for r in faces.retrieve(keys)} if faces is not None else {}
        for face in drawn_faces:
            point = by_key.get(face.key)
            if point is None:
                missing += 1
                if FACES_MISSING in kinds:
                    key = face.key
                    record(DriftItem(FACES_MISSING, None, "qdrant_point_id", key, None, face.path))
                continue
            finding = faces_finding(point.payload, face.person) if FACES in kinds else None
            if finding is not None:
                drifted += 1
                db_value, payload_value = finding.database, finding.payload
                item = DriftItem(FACES, point.id, finding.field, db_value, payload_value, face.path)
                record(item)

    sampled = len(drawn_assets) + len(drawn_faces)
    per_kind: dict[str, RateEstimate] = {}
    for kind in kinds:
        if kind in skipped:
            continue
        if kind in (PATH, CATEGORY, MISSING):
            per_kind[kind] = RateEstimate.of(found[kind], len(drawn_assets), assets)
        else:
            per_kind[kind] = RateEstimate.of(found[kind], len(drawn_faces), face_rows)
    return DriftEstimate(
        drift=RateEstimate.of(drifted, sampled, population),
        missing=RateEstimate.of(missing, sampled, population),
        kinds=per_kind,
        samples=[s for k in kinds for s in samples[k]],
        skipped=skipped,
        seconds=time.perf_counter() - started,
    )


def _points_of(store: VectorStore, rows: list[AssetRow]) -> dict[int, Record]:
    """Each asset's point: by id where the point is keyed by its asset, else by `asset_id`."""
    points: dict[int, Record] = {}
    for r in store.retrieve([row[0] for row in rows]):
        if type(r.id) is int and asset_id_of(r) == r.id:
            points[r.id] = r
    rest = tuple(str(row[0]) for row in rows if row[0] not in points)
    if rest:
        wanted = {int(a) for a in rest}
        fields = [F_ASSET_ID, F_PATH, "dir", F_CATEGORY_ID]
        for page in store.scroll(Selector(asset_ids=rest), fields=fields):
            for r in page:
                asset = asset_id_of(r)
                if asset in wanted and asset not in points:
                    points[asset] = r
    return points


def _image_findings(
    point: Record, row: AssetRow, kinds: tuple[str, ...], catalog: Catalog | None
) -> list[Finding]:
    findings: list[Finding] = []
    if PATH in kinds:
        found = path_finding(point.payload, row[1])
        if found is not None:
            findings.append(found)
    if catalog is not None:
        have, session = point.payload.get(F_CATEGORY_ID), row[2]
        known = session is not None
        category = catalog.wanted.get(session) if session is not None else None
        want = wanted_category(have, category, known, catalog.categories)
        found = category_finding(point.payload, want)
        if found is not None:
            findings.append(found)
    return findings
