"""The vector-store interface the service layer talks to.

Engines (qdrant-client against a server or in local mode, Qdrant Edge in process) implement
it; nothing above `core.store` sees a qdrant-client or qdrant_edge type. Every count is
exact; no delete returns a count (Qdrant's don't), so callers count before and verify after.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from vectorctl.core.errors import StoreMismatch, Unsupported
from vectorctl.core.progress import CancelToken, ProgressCallback

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


@dataclass(frozen=True)
class Upkeep:
    """What keeping the store fast asks of the operator now (engines without an optimiser of
    their own report nothing). `reasons` say why an optimize is due; an empty list: none is."""

    reasons: tuple[str, ...] = ()
    missing_indexes: tuple[str, ...] = ()  # vectorctl's payload indexes the store lacks

    @property
    def optimize_due(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True)
class OptimizeOutcome:
    optimized: bool  # False: the store was already in its fast layout
    points: int
    segments_before: int
    segments_after: int
    seconds: float
    open_seconds: float  # opening the store once the optimize was done


class VectorStore(ABC):
    """One collection in one engine. Instances are not shared between threads."""

    kind: str  # "server", "local" or "edge"
    location: str  # URL or directory, never with a secret
    collection: str

    @abstractmethod
    def collection_info(self, *, count: bool = True) -> CollectionInfo:
        """Describe the collection; `exists=False` (not an error) when it is missing.
        `count=False` leaves `points_count` out: on a server it is an exact count, which a
        check of existence and vector size does not need."""

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

    def update_payloads(self, updates: Sequence[tuple[PointId, dict[str, Any]]]) -> None:
        """Set each point's fields to the values given for it, a value of None removing the
        field; other fields and the vector stay as they are. Points with the same changes
        are written together (a drift repair: `core.drift`)."""
        raise NotImplementedError(f"{self.kind} stores cannot update payload fields")

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

    def upkeep(self) -> Upkeep:
        """What the store needs to stay fast (cheap: no scan)."""
        return Upkeep()

    def optimize(
        self, *, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> OptimizeOutcome:
        """Compact deleted versions and rebuild segments into the engine's fast layout (no
        point changes). Engines that optimise by themselves, or cannot, refuse."""
        raise StoreMismatch(
            f"{self.kind} store {self.location} has no optimize of vectorctl's: "
            + (
                "a Qdrant server optimises its segments by itself"
                if self.kind == "server"
                else "copy the collection to Qdrant Edge (`vectorctl store migrate --to-edge "
                "DIR`) for a store that stays fast"
            )
        )

    @abstractmethod
    def close(self) -> None:
        """Release the engine (embedded engines unlock their directory)."""

    def open_collection(self, collection: str) -> VectorStore:
        """Another collection of this same store, used beside this one (the image-search
        service's `faces` collection): it shares this store's connection and, on an embedded
        engine, the directory lock this process holds. Closing it leaves this one open."""
        raise Unsupported(f"the {self.kind} store cannot open another collection alongside")

    # -- the deployment's collections, search, snapshots and aliases ----------------------
    # Not abstract: an engine that cannot do one of these says so (Unsupported), and the
    # interfaces show that instead of failing.

    def describe(self) -> CollectionSummary:
        """This collection as `vectorctl collections` lists it."""
        raise Unsupported(f"the {self.kind} store cannot describe its collections")

    def collection_names(self) -> list[str]:
        """Every collection of this engine (server, local-mode directory or Edge directory)."""
        raise Unsupported(f"the {self.kind} store cannot list its collections")

    def search(
        self,
        vector: Sequence[float],
        *,
        limit: int,
        fields: Sequence[str] | None = (F_ASSET_ID, F_PATH),
    ) -> list[ScoredPoint]:
        """The `limit` points nearest to `vector`, best first, with `fields` of payload."""
        raise Unsupported(f"the {self.kind} store cannot search")

    def create_payload_index(self, field: str, kind: str, *, prefix: bool = False) -> None:
        """Create one payload index (`kind` keyword or integer); waits until it exists."""
        raise Unsupported(f"the {self.kind} store has no payload indexes")

    def aliases(self) -> dict[str, str]:
        """Every alias of the engine: alias name -> collection name."""
        raise Unsupported(f"the {self.kind} store has no collection aliases")

    def switch_alias(self, alias: str, collection: str) -> None:
        """Point `alias` at `collection` in one atomic step (created when missing)."""
        raise Unsupported(f"the {self.kind} store has no collection aliases")

    # Snapshots. A server keeps its snapshots itself (`server_*`); an embedded engine writes
    # one into a file the caller names and restores from one (`write_snapshot`,
    # `restore_snapshot_file`).
    snapshot_kind: str | None = None  # "server", "file", or None (none at all)

    def server_snapshots(self) -> list[SnapshotInfo]:
        raise Unsupported(f"the {self.kind} store keeps no snapshots of its own")

    def delete_server_snapshot(self, name: str) -> None:
        raise Unsupported(f"the {self.kind} store keeps no snapshots of its own")

    def download_server_snapshot(self, name: str, out: IO[bytes]) -> int:
        """Stream the snapshot into `out`; returns the bytes written."""
        raise Unsupported(f"the {self.kind} store keeps no snapshots of its own")

    def recover_server_snapshot(self, name: str, *, checksum: str | None) -> None:
        """Replace the collection's data with a snapshot the server holds."""
        raise Unsupported(f"the {self.kind} store keeps no snapshots of its own")

    def upload_server_snapshot(self, path: Path, *, checksum: str | None) -> None:
        """Replace the collection's data with a snapshot file sent from here."""
        raise Unsupported(f"the {self.kind} store keeps no snapshots of its own")

    def write_snapshot(self, out: IO[bytes]) -> dict[str, Any]:
        """Write a consistent snapshot of this collection (the engine's own format) into
        `out`; returns what the file holds (points, vector size, distance)."""
        raise Unsupported(f"the {self.kind} store cannot write a snapshot file")

    def restore_snapshot_file(self, path: Path, marker: dict[str, Any]) -> None:
        """Replace this collection with the snapshot in `path`, whole or not at all; the
        restored collection carries `marker` (read back by `restored_marker`)."""
        raise Unsupported(f"the {self.kind} store cannot restore a snapshot file")

    def restored_marker(self) -> dict[str, Any] | None:
        """The `marker` of the last snapshot restored into this collection, if any."""
        return None


COLLECTION_STATUSES = ("green", "yellow", "red", "grey")


@dataclass(frozen=True)
class PayloadIndex:
    field: str
    kind: str  # "keyword", "integer", "text", ... as the engine names the type
    prefix: bool = False  # a keyword index that also answers MatchPrefix
    points: int | None = None  # points holding the field, where the engine says


@dataclass(frozen=True)
class CollectionSummary:
    """One collection as the engine describes it; None where the engine does not say."""

    name: str
    exists: bool = True
    points: int | None = None
    vector_size: int | None = None
    distance: str | None = None
    status: str = "grey"  # green, yellow (optimising), red (failed), grey (pending or unknown)
    optimizer: str | None = None  # "ok", the optimiser's error, or None where none runs
    segments: int | None = None
    indexed_vectors: int | None = None
    indexes: tuple[PayloadIndex, ...] = ()
    disk_bytes: int | None = None
    pending_operations: int | None = None  # a server's update queue
    error: str | None = None  # the collection could not be described


@dataclass(frozen=True)
class ScoredPoint:
    id: PointId
    score: float
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    size: int | None = None
    created_at: str | None = None  # ISO 8601, UTC
    checksum: str | None = None  # SHA-256 where known
