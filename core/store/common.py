"""What both Qdrant engines share: selector translation, id batching, payload projection and
the operations that are the same once an engine can count, scroll a page, delete and facet.

qdrant-client and qdrant_edge have filters of the same shape but different classes, so a
selector is first translated into engine-neutral conditions (a union); each engine maps
those few condition kinds onto its own classes. Nothing here imports an engine.
"""

from __future__ import annotations

import json
import uuid
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from vectorctl.core.errors import MissingIndex, StoreMismatch
from vectorctl.core.paths import is_under
from vectorctl.core.store.base import (
    F_ASSET_ID,
    F_CATEGORY_ID,
    F_DIR,
    F_DIRS,
    F_PATH,
    F_SESSION_ID,
    PointId,
    Record,
    Selector,
    VectorStore,
)

# Ids per delete/retrieve call: few calls (qdrant-client local mode commits per call and per
# point), small enough that a request body stays far below a server's 32 MB limit.
ID_BATCH = 10_000
# Points per upsert call: 256 vectors of 512 floats is about 1.5 MB of JSON.
UPSERT_BATCH = 256

DISTANCES = ("cosine", "dot", "euclid", "manhattan")
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class IndexSpec:
    """A payload index vectorctl relies on. `prefix` makes MatchPrefix on the field fast."""

    field: str
    kind: str  # "keyword" or "integer"
    prefix: bool = False


# Keyword on the string fields matched or faceted, integer on the ids; `path` gets a prefix
# index where the engine has one, for directory selectors over legacy points.
INDEXES = (
    IndexSpec(F_ASSET_ID, "keyword"),
    IndexSpec(F_DIRS, "keyword"),
    IndexSpec(F_DIR, "keyword"),
    IndexSpec(F_PATH, "keyword", prefix=True),
    IndexSpec(F_CATEGORY_ID, "integer"),
    IndexSpec(F_SESSION_ID, "integer"),
)


def indexes_to_create(
    existing: dict[str, Any], *, prefix_match: bool, specs: tuple[IndexSpec, ...] = INDEXES
) -> list[IndexSpec]:
    """The indexes of `specs` missing from `existing` (field -> the engine's index params, or
    None), plus `path` when it lacks the prefix option the engine supports (an older index)."""
    wanted = []
    for spec in specs:
        if spec.field not in existing:
            wanted.append(spec)
        elif spec.prefix and prefix_match:
            params = existing[spec.field]
            if not getattr(params, "prefix", False):  # engines' params classes differ
                wanted.append(spec)
    return wanted


# Engine-neutral conditions: a selector becomes a list of these, any of which selects a point.
@dataclass(frozen=True)
class MatchValue:
    key: str
    value: str | int


@dataclass(frozen=True)
class MatchAny:
    key: str
    values: list[str] | list[int]  # the engines take one type per list


@dataclass(frozen=True)
class HasId:
    ids: tuple[PointId, ...]


@dataclass(frozen=True)
class IsEmpty:
    key: str


@dataclass(frozen=True)
class LegacyUnder:
    """A legacy point (no `dirs`) whose path starts with `prefix`. Engines say it as one
    nested filter, `is_empty(dirs) AND path starts with prefix`: the planner then reads the
    few legacy points' paths (the null index of `dirs` lists them) instead of needing a
    prefix index over every path."""

    prefix: str


Condition = MatchValue | MatchAny | HasId | IsEmpty | LegacyUnder


def directory_conditions(
    directory: str, *, prefix_match: bool, legacy_points: bool = True
) -> list[Condition]:
    """Points inside `directory` at any depth: those whose ancestor list names it, and legacy
    points (no `dirs`) whose path starts with `directory/` - the slash keeps `/a/b` from
    matching `/a/b-old/x`. A point's directory is its `dirs` when it has them, its path
    otherwise. Without prefix matching only the first part can be said in a filter; the store
    adds the legacy ids it found by reading paths (`_legacy_ids_under`). A store that knows
    it holds no legacy point (`legacy_points=False`) leaves their part out."""
    directory = directory.rstrip("/")
    conditions: list[Condition] = [MatchValue(F_DIRS, directory)]
    if prefix_match and legacy_points:
        conditions.append(LegacyUnder(directory + "/"))
    return conditions


def selector_conditions(
    selector: Selector,
    *,
    prefix_match: bool,
    integer_asset_ids: bool = True,
    legacy_points: bool = True,
) -> list[Condition]:
    """The union of conditions a non-empty selector stands for.

    `asset_id` is a string, but the image-search service also wrote it as an integer: each
    asset is matched in both forms unless the store knows no point holds an integer there
    (`integer_asset_ids=False`). Likewise directories match legacy points by path unless the
    store knows it holds none (`legacy_points=False`).
    """
    conditions: list[Condition] = []
    for directory in (selector.directory, *selector.directories):
        if directory:
            conditions += directory_conditions(
                directory, prefix_match=prefix_match, legacy_points=legacy_points
            )
    if selector.point_ids:
        conditions.append(HasId(tuple(normalize_ids(selector.point_ids))))
    if selector.asset_ids:
        # Compare like with like: a string matches only a string, an integer an integer.
        names = [str(a) for a in selector.asset_ids]
        conditions.append(MatchAny(F_ASSET_ID, names))
        # Integer payload values are 64-bit in the engines.
        numbers = [int(a) for a in names if a.isascii() and a.isdigit() and int(a) <= INT64_MAX]
        if integer_asset_ids and numbers:
            conditions.append(MatchAny(F_ASSET_ID, numbers))
    if selector.session_id is not None:
        conditions.append(MatchValue(F_SESSION_ID, int(selector.session_id)))
    if selector.category_id is not None:
        conditions.append(MatchValue(F_CATEGORY_ID, int(selector.category_id)))
    if selector.without_dirs:
        conditions.append(IsEmpty(F_DIRS))
    return conditions


def normalize_id(point_id: PointId | uuid.UUID) -> PointId:
    """An id as Qdrant takes it: an int, or a UUID in its canonical hyphenated form.

    Digit strings become ints, so an id typed on a command line matches the integer id.
    """
    if isinstance(point_id, int):
        return point_id
    if isinstance(point_id, uuid.UUID):
        return str(point_id)
    text = str(point_id)
    return int(text) if text.isdigit() else str(uuid.UUID(text))


def normalize_ids(ids: Iterable[PointId]) -> list[PointId]:
    return [normalize_id(i) for i in ids]


def batched(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class PayloadGroup:
    """Points that get the same payload changes: one set and one delete per group."""

    ids: list[PointId]
    set: dict[str, Any]
    unset: list[str]


def payload_groups(updates: Sequence[tuple[PointId, dict[str, Any]]]) -> list[PayloadGroup]:
    """`update_payloads`' changes grouped by what they set and remove, in first-seen order:
    repairing a category or a person writes a few groups, a path one per point."""
    groups: dict[str, PayloadGroup] = {}
    for point_id, values in updates:
        key = json.dumps(values, sort_keys=True)
        if key not in groups:
            groups[key] = PayloadGroup(
                [],
                {k: v for k, v in values.items() if v is not None},
                sorted(k for k, v in values.items() if v is None),
            )
        groups[key].ids.append(normalize_id(point_id))
    return list(groups.values())


def payload_projection(fields: Sequence[str] | None) -> bool | list[str]:
    """Both engines take True (whole payload), False (none) or a list of keys."""
    if fields is None:
        return True
    return list(fields) if fields else False


F = TypeVar("F")  # the engine's filter type
T = TypeVar("T")  # what a page holds: Records or bare ids


class QdrantEngineStore(VectorStore, Generic[F]):
    """The parts of a VectorStore that are the same on every Qdrant engine.

    Subclasses provide the engine primitives (`_count`, `_scroll_page`, `_delete_points`,
    `_delete_where`, `_facet`) and the mapping of neutral conditions to a filter
    (`_to_filter`). An empty selector never reaches an engine: an empty `should` would
    select every point there.
    """

    # The payload indexes vectorctl keeps on this engine's collections.
    indexes: tuple[IndexSpec, ...] = INDEXES

    # False on servers older than 1.19, which reject MatchPrefix: directory selectors then
    # find legacy points by reading paths. Tests set it to exercise that fallback.
    prefix_match = True

    def count(self, selector: Selector | None = None) -> int:
        if selector is not None and selector.is_empty():
            return 0
        return self._count(self._filter(selector))

    def scroll(
        self,
        selector: Selector | None = None,
        *,
        fields: Sequence[str] | None = (F_ASSET_ID, F_PATH),
        with_vectors: bool = False,
        batch_size: int = 1000,
    ) -> Iterator[list[Record]]:
        with_payload = payload_projection(fields)
        yield from self._pages(
            selector,
            lambda flt, offset: self._scroll_page(
                flt, offset, batch_size, with_payload, with_vectors
            ),
        )

    def scroll_ids(
        self, selector: Selector | None = None, *, batch_size: int = 10_000
    ) -> Iterator[list[PointId]]:
        yield from self._pages(
            selector, lambda flt, offset: self._scroll_ids_page(flt, offset, batch_size)
        )

    def _pages(
        self,
        selector: Selector | None,
        fetch: Callable[[F | None, PointId | None], tuple[list[T], PointId | None]],
    ) -> Iterator[list[T]]:
        """Non-empty pages from `fetch(filter, offset)`, following its next offset to the end."""
        if selector is not None and selector.is_empty():
            return
        flt = self._filter(selector)
        offset: PointId | None = None
        while True:
            page, offset = fetch(flt, offset)
            if page:
                yield page
            if offset is None:
                return

    def delete_ids(self, ids: Sequence[PointId]) -> None:
        for batch in batched(normalize_ids(ids), ID_BATCH):
            self._delete_points(list(batch))

    def delete(self, selector: Selector) -> None:
        if selector.is_empty():
            return
        flt = self._filter(selector)
        assert flt is not None  # a non-empty selector always makes a filter
        self._delete_where(flt)

    def facet(self, key: str, *, limit: int = 1_000_000) -> dict[Any, int]:
        # Edge's exact facet can report a value whose points were all deleted, with count 0.
        return {value: n for value, n in self._facet(key, limit) if n > 0}

    def _filter(self, selector: Selector | None) -> F | None:
        if selector is None:
            return None
        conditions = selector_conditions(
            selector,
            prefix_match=self.prefix_match,
            integer_asset_ids=bool(selector.asset_ids) and self._may_hold_integer_asset_ids(),
            legacy_points=not (selector.directory or selector.directories)
            or self._may_hold_legacy_points(),
        )
        if not self.prefix_match:
            for directory in (selector.directory, *selector.directories):
                legacy = self._legacy_ids_under(directory) if directory else []
                if legacy:
                    conditions.append(HasId(tuple(legacy)))
        return self._to_filter(conditions)

    def _may_hold_integer_asset_ids(self) -> bool:
        """Whether some point may carry `asset_id` as an integer, which selectors then match
        too. No engine index answers that match when `asset_id` has a keyword index (a field
        has one index type), so the engine reads payloads for it: a filter with that clause
        is a scan of the collection instead of an index lookup. An engine that can tell
        cheaply that every point has a string value says False.

        On a server this holds by construction as well: the server falls back to reading the
        payload for a condition its index cannot answer (its planner then scans, the way an
        unindexed field is filtered), so integer values are found, at the cost of a scan; a
        collection in strict mode with `unindexed_filtering_retrieve: false` refuses such a
        filter ("Index required but not found", an integer index being wanted).
        """
        return True

    def _may_hold_legacy_points(self) -> bool:
        """Whether some point may lack `dirs`, so that directory selectors must also match
        paths. An engine that can tell cheaply that every point has them says False, and a
        directory is then one index lookup."""
        return True

    def _legacy_ids_under(self, directory: str) -> list[PointId]:
        """Ids of legacy points (no `dirs`) inside `directory`, found by reading their paths:
        the fallback where the engine cannot match a path prefix (kept small: after a
        backfill of `dirs` there are few legacy points)."""
        ids: list[PointId] = []
        for page in self.scroll(Selector(without_dirs=True), fields=[F_PATH], batch_size=5000):
            ids += [r.id for r in page if is_under(str(r.payload.get(F_PATH, "")), directory)]
        return ids

    def _unindexed(self, key: str) -> MissingIndex:
        return MissingIndex(
            f"collection {self.collection!r} has no payload index on {key!r}, which counting "
            "by value needs: run `vectorctl store backfill` once to create vectorctl's indexes"
        )

    def _missing(self) -> StoreMismatch:
        return StoreMismatch(
            f"collection {self.collection!r} does not exist in {self.kind} store {self.location}"
        )

    @abstractmethod
    def _to_filter(self, conditions: list[Condition]) -> F:
        """A filter selecting points that match any of `conditions` (never empty)."""

    @abstractmethod
    def _count(self, flt: F | None) -> int: ...

    @abstractmethod
    def _scroll_page(
        self,
        flt: F | None,
        offset: PointId | None,
        limit: int,
        with_payload: bool | list[str],
        with_vectors: bool,
    ) -> tuple[list[Record], PointId | None]:
        """One page ordered by id from `offset`, and the id the next page starts at."""

    def _scroll_ids_page(
        self, flt: F | None, offset: PointId | None, limit: int
    ) -> tuple[list[PointId], PointId | None]:
        """`_scroll_page` without payload or vectors, as bare ids; an engine that can hand
        ids over without building a Record per point overrides it."""
        page, next_offset = self._scroll_page(flt, offset, limit, False, False)
        return [r.id for r in page], next_offset

    @abstractmethod
    def _delete_points(self, ids: list[PointId]) -> None: ...

    @abstractmethod
    def _delete_where(self, flt: F) -> None: ...

    @abstractmethod
    def _facet(self, key: str, limit: int) -> list[tuple[Any, int]]: ...


def to_record(point_id: Any, payload: dict[str, Any] | None, vector: Any) -> Record:
    """A Record from an engine's point (UUID ids come back as uuid.UUID on Edge)."""
    return Record(
        id=point_id if type(point_id) is int else normalize_id(point_id),  # hot: 100k a scroll
        payload=payload if payload is not None else {},
        vector=vector if isinstance(vector, list) else None,
    )


def first_line(exc: BaseException) -> str:
    """An engine error as one line for an operator (engines raise multi-line messages)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def vector_of(record: Record) -> list[float]:
    """The vector to upsert: every written point needs one."""
    if record.vector is None:
        raise ValueError(f"point {record.id} has no vector to upsert")
    return record.vector
