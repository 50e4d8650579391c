"""Target resolution: what a directory, asset, session or category selects in the store
(`plan(target) -> Plan`), the preview an operator confirms, and the checks made before it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from vectorctl.core import protocol
from vectorctl.core.db.models import (
    Category,
    ImageAsset,
    TrainingJob,
    TrainingSession,
)
from vectorctl.core.db.paths import inside
from vectorctl.core.errors import (
    NotFoundError,
    ValidationError,
)
from vectorctl.core.paths import directory_set
from vectorctl.core.results import (
    PointSample,
    Preview,
)
from vectorctl.core.settings import RESET_PHRASE
from vectorctl.core.store.base import F_ASSET_ID, F_CATEGORY_ID, F_PATH, Selector, VectorStore
from vectorctl.core.targets import (
    DELETION_TYPES,
    Target,
    TargetKind,
    parse_id,
)
from vectorctl.core.validation import takes_nearly_all

if TYPE_CHECKING:
    pass
from vectorctl.core.services.connections import ServiceConnections, check_id_range

SAMPLE_SIZE = 10


class Resolution(ServiceConnections):
    def plan(self, target: Target) -> protocol.Plan:
        """Validate a target and count exactly what it selects (nothing is changed)."""
        selector, metadata, label = self._resolve(target)
        store = self._collection()
        count = store.count(selector) if not selector.is_empty() else 0
        if target.kind is TargetKind.DIRECTORY:
            self._check_directories_exist(
                store, (selector.directory or "", *selector.directories), count
            )
        return protocol.Plan(
            deletion_type=DELETION_TYPES[target.kind],
            target=label,
            selector=selector,
            expected=count,
            metadata=metadata,
        )

    def preview(self, target: Target, sample_size: int = SAMPLE_SIZE) -> Preview:
        plan = self.plan(target)
        sample: list[PointSample] = []
        if plan.expected and plan.selector is not None:
            for page in self.store.scroll(
                plan.selector, fields=[F_ASSET_ID, F_PATH, F_CATEGORY_ID], batch_size=sample_size
            ):
                sample = [_sample(r) for r in page[:sample_size]]
                break
        total = self._collection().count() if plan.expected else None
        return Preview(
            target=target,
            count=plan.expected,
            sample=sample,
            note=str(plan.metadata.get("note", "")),
            total=total,
            needs_phrase=target.kind is not TargetKind.ASSET
            and takes_nearly_all(plan.expected, total),
        )

    def _check_phrase(self, what: str, count: int, phrase: str | None) -> None:
        """A delete of (nearly) every vector is confirmed like a reset, whatever its target:
        a directory at the library's root takes the whole collection too."""
        if phrase == RESET_PHRASE:
            return
        total = self._collection().count()
        if takes_nearly_all(count, total):
            raise ValidationError(
                f"{what} would delete {count:,} of the collection's {total:,} vectors: confirm "
                f"it with the phrase {RESET_PHRASE!r} (--confirm on the command line), as a "
                "reset; nothing was deleted",
                count=count,
                total=total,
            )

    def _check_directories_exist(
        self, store: VectorStore, prefixes: tuple[str, ...], count: int
    ) -> None:
        """A directory known to neither side is a typing mistake (a wrong case, a missing
        segment), said as for an unknown asset, session or category; one that has assets
        but no vectors is a real directory that selects nothing."""
        for prefix in prefixes:
            if count and len(prefixes) == 1:
                return
            if len(prefixes) > 1 and store.count(Selector(directory=prefix)):
                continue
            with self.db() as db:
                known = (
                    db.execute(
                        select(ImageAsset.id).where(inside(ImageAsset.path, prefix)).limit(1)
                    ).first()
                    or db.execute(
                        select(TrainingSession.id)
                        .where(
                            (TrainingSession.directory_path == prefix)
                            | inside(TrainingSession.directory_path, prefix)
                        )
                        .limit(1)
                    ).first()
                )
            if not known:
                raise NotFoundError(
                    f"directory {prefix} holds no vectors and no assets: check the path "
                    "(directories are compared exactly, case included)"
                )

    def _resolve(self, target: Target) -> tuple[Selector, dict[str, Any], str]:
        kind, value = target.kind, target.value
        if kind is TargetKind.DIRECTORY:
            prefixes = directory_set(target.directories)
            if len(prefixes) == 1:
                return Selector(directory=prefixes[0]), {}, prefixes[0]
            selector = Selector(directory=prefixes[0], directories=tuple(prefixes[1:]))
            return selector, {"directories": prefixes}, "; ".join(prefixes)
        if kind is TargetKind.ASSET:
            asset_id = _parse_id("asset", value, self._max_id(ImageAsset))
            with self.db() as db:
                known = db.get(ImageAsset, asset_id) is not None
            selector = Selector(point_ids=(asset_id,), asset_ids=(str(asset_id),))
            if not known and self._collection().count(selector) == 0:
                raise NotFoundError(f"asset {asset_id} is neither in the database nor in the store")
            note = "" if known else "asset has no database row (orphan vector)"
            return selector, {"note": note} if note else {}, str(asset_id)
        if kind is TargetKind.SESSION:
            session_id = _parse_id("session", value, self._max_id(TrainingSession))
            with self.db() as db:
                session = db.get(TrainingSession, session_id)
                if session is None:
                    raise NotFoundError(f"training session {session_id} does not exist")
                asset_ids = tuple(
                    str(a)
                    for a in db.scalars(
                        select(TrainingJob.asset_id)
                        .where(TrainingJob.session_id == session_id)
                        .distinct()
                    )
                )
                meta = {"directory": session.directory_path, "job_assets": len(asset_ids)}
            return Selector(asset_ids=asset_ids, session_id=session_id), meta, str(session_id)
        if kind is TargetKind.CATEGORY:
            category_id = _parse_id("category", value, self._max_id(Category))
            with self.db() as db:
                category = db.get(Category, category_id)
                if category is None:
                    raise NotFoundError(f"category {category_id} does not exist")
                meta = {"category_name": category.name}
            return Selector(category_id=category_id), meta, str(category_id)
        raise ValidationError(f"{kind.value} is not a target for delete or preview")


def _parse_id(what: str, value: str, maximum: int) -> int:
    number = parse_id(what, value)
    check_id_range(what, number, maximum)
    return number


def _sample(record: Any) -> PointSample:
    path = record.payload.get(F_PATH)
    asset = record.payload.get(F_ASSET_ID)
    category = record.payload.get(F_CATEGORY_ID)
    return PointSample(
        id=record.id,
        path=path if isinstance(path, str) else None,
        asset_id=None if asset is None else str(asset),
        category_id=category if isinstance(category, int) else None,
    )
