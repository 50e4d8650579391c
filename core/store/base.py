"""The vector-store interface the service layer talks to.

Engines (qdrant-client against a server or in local mode, Qdrant Edge in process) implement
it; nothing above `core.store` sees a qdrant-client or qdrant_edge type. Every count is
exact; no delete returns a count (Qdrant's don't), so callers count before and verify after.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

PointId = int | str  # Qdrant ids: unsigned integers or UUID strings

# Payload fields. The first four are the image-search service's own; points written by
# other tools may carry only those. The rest are written by vectorctl and indexed.
F_ASSET_ID = "asset_id"  # string form of the asset's integer id
F_PATH = "path"
F_CREATED_AT = "created_at"
F_CATEGORY_ID = "category_id"
F_DIRS = "dirs"  # every ancestor directory of path, outermost first (keyword list)
F_DIR = "dir"  # the directory the file sits in (keyword)
F_SESSION_ID = "session_id"  # training session that wrote the point (integer)


@dataclass(frozen=True)
class Selector:
    """Which points an operation touches.

    A point is selected when it matches ANY of the fields that are set (a union); an empty
    selector selects nothing. `directory` means "path lies inside this directory at any
    depth" and must hold for legacy points that have only `path` (no `dirs`), and must not
    match `/a/b-old/x` for directory `/a/b`.
    """

    directory: str | None = None
    directories: tuple[str, ...] = ()  # more directories, in the same sense as `directory`
    point_ids: tuple[PointId, ...] = ()
    asset_ids: tuple[str, ...] = ()
    session_id: int | None = None
    category_id: int | None = None
    without_dirs: bool = False  # legacy points: those lacking the `dirs` payload field

    def is_empty(self) -> bool:
        return not (
            self.directory
            or self.directories
            or self.point_ids
            or self.asset_ids
            or self.session_id is not None
            or self.category_id is not None
            or self.without_dirs
        )


@dataclass(slots=True)
class Record:
    """A point as read from or written to the store. `vector` is None unless asked for."""

    id: PointId
    payload: dict[str, Any] = field(default_factory=dict)
    vector: list[float] | None = None


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    exists: bool
    vector_size: int | None = None
    distance: str | None = None  # "cosine", "dot", "euclid", "manhattan"
    points_count: int | None = None


class VectorStore(ABC):
    """One collection in one engine. Instances are not shared between threads."""

    kind: str  # "server", "local" or "edge"
    location: str  # URL or directory, never with a secret
    collection: str

    @abstractmethod
    def collection_info(self) -> CollectionInfo:
        """Describe the collection; `exists=False` (not an error) when it is missing."""

    @abstractmethod
    def ensure_collection(self, vector_size: int, distance: str = "cosine") -> None:
        """Create the collection if missing, and the payload indexes vectorctl relies on.

        An existing collection with another vector size raises StoreMismatch.
        """

    @abstractmethod
    def count(self, selector: Selector | None = None) -> int:
        """Exact number of points selected (all points when selector is None)."""

    @abstractmethod
    def scroll(
        self,
        selector: Selector | None = None,
        *,
        fields: Sequence[str] | None = (F_ASSET_ID, F_PATH),
        with_vectors: bool = False,
        batch_size: int = 1000,
    ) -> Iterator[list[Record]]:
        """Stream the selected points in pages ordered by id, with only `fields` of payload
        (None: the whole payload; empty: none). Safe to delete already-yielded points."""

    def scroll_ids(
        self, selector: Selector | None = None, *, batch_size: int = 10_000
    ) -> Iterator[list[PointId]]:
        """The selected points' ids in pages ordered by id: `scroll` without payload, and
        without a Record per point either, which is most of an ids-only scan's time."""
        for page in self.scroll(selector, fields=[], batch_size=batch_size):
            yield [r.id for r in page]

    @abstractmethod
    def retrieve(self, ids: Sequence[PointId], *, with_vectors: bool = False) -> list[Record]:
        """The points with these ids that exist (whole payload)."""

    @abstractmethod
    def upsert(self, records: Sequence[Record]) -> None:
        """Insert or replace points (each record must carry its vector)."""

    @abstractmethod
    def set_payload(self, ids: Sequence[PointId], payload: dict[str, Any]) -> None:
        """Merge `payload` into the payload of these points."""

    @abstractmethod
    def delete_ids(self, ids: Sequence[PointId]) -> None:
        """Delete these points (missing ids are ignored), in as few engine calls as possible."""

    @abstractmethod
    def delete(self, selector: Selector) -> None:
        """Delete every selected point. Returns nothing: count before, verify after."""

    @abstractmethod
    def facet(self, key: str, *, limit: int = 1_000_000) -> dict[Any, int]:
        """Exact number of points per value of an indexed keyword/integer field (a list field
        counts a point once per value). Values with a zero count are dropped."""

    def value_counts(self, key: str, ids: Sequence[PointId]) -> dict[Any, int] | None:
        """How many of the points `ids` carry each value of the indexed keyword field `key`
        (a list counts once per distinct value), read from the payload index without reading
        the payloads. None where the engine has no such cheap and exact read, or `key` no
        index: callers then read the payloads."""
        return None

    @abstractmethod
    def recreate_collection(self) -> None:
        """Drop and create the collection again with the same vector configuration and indexes."""

    @abstractmethod
    def create_snapshot(self) -> str | None:
        """Take a server-side snapshot and return its name; None where the engine has none."""

    @abstractmethod
    def close(self) -> None:
        """Release the engine (embedded engines unlock their directory)."""
