"""The vector store on Qdrant Edge: the Qdrant engine in process, one shard per collection.

Layout of the configured directory: `vectorctl.lock` (who holds the store, see
`core.store.lock`) and one shard directory per collection, holding the engine's files. A
loaded shard does not report its configuration through the API (`info()` has counts and
payload indexes only), but the engine keeps it in the shard's `edge_config.json`, written on
create and on every load (derived from the segments when a shard lacked it): vector size and
distance are read there, so a shard another program created is described, restored into and
recreated like one of ours. vectorctl's own `vectorctl-collection.json` is only read where
the engine's file names no unnamed vector. Edge has payload indexes, exact counts and
facets, filter deletes and MatchPrefix, but no snapshots and no background optimiser.

What a large shard costs to open is its layout (measured at 1,000,000 points, see DESIGN.md
"Qdrant facts"): an appendable segment rebuilds its payload indexes in memory at every load,
and so does an optimised one whose indexes are kept in RAM. vectorctl keeps shards in the
layout that opens in a fraction of a second: payload indexes memory-mapped, vectors cold
(mapped, read when asked for), no `path` prefix index, integer indexes for lookups only, and
no HNSW graph unless the shard's configuration names one (vectorctl never searches); and
optimised after bulk writes, which `optimize` does in a child process (`edge_optimize`).
What was written since the last optimize is counted in `vectorctl-maintenance.json`.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import qdrant_edge as qe

from vectorctl.core.durable import fsync_path
from vectorctl.core.errors import (
    Cancelled,
    ConnectionFailed,
    OperationFailed,
    StoreMismatch,
    ValidationError,
)
from vectorctl.core.progress import CancelToken, ProgressCallback, ProgressEvent, report
from vectorctl.core.store.base import (
    F_ASSET_ID,
    F_DIRS,
    F_PATH,
    CollectionInfo,
    CollectionSummary,
    OptimizeOutcome,
    PayloadIndex,
    PointId,
    Record,
    ScoredPoint,
    Upkeep,
)
from vectorctl.core.store.common import (
    DISTANCES,
    ID_BATCH,
    INDEXES,
    UPSERT_BATCH,
    Condition,
    HasId,
    IndexSpec,
    IsEmpty,
    LegacyUnder,
    MatchAny,
    MatchValue,
    QdrantEngineStore,
    batched,
    first_line,
    normalize_id,
    normalize_ids,
    payload_groups,
    payload_projection,
    to_record,
    vector_of,
)
from vectorctl.core.store.lock import DirectoryLock

CONFIG_FILE = "vectorctl-collection.json"
# Written into a shard restored from a snapshot: which snapshot, and the audit entry.
RESTORED_FILE = "vectorctl-restored.json"
ENGINE_CONFIG_FILE = "edge_config.json"  # the engine's own, in the shard directory
UPKEEP_FILE = "vectorctl-maintenance.json"  # writes and deletes since the last optimize
TEMP_SEGMENTS = "temp_segments"  # the engine's scratch directory while it optimises
# vectorctl's indexes on Edge: all but the `path` prefix index. Directory selectors find
# legacy points through the null index of `dirs` (`LegacyUnder`), so a prefix index over
# every path (1,000,000 keys: the largest index by far) serves nothing.
EDGE_INDEXES = tuple(spec for spec in INDEXES if not spec.prefix)
# An optimize is due once this many points were written since the last one: they sit in the
# appendable segment, whose payload indexes are rebuilt in memory at every open (about
# 7 us a point with vectorctl's five indexes: 20,000 points cost some 0.15 s an open).
OPTIMIZE_AFTER_WRITES = 20_000
# ... or once this share of the points was deleted. Deleted versions stay in an optimised
# segment's index until it is vacuumed, and the engine plans reads on those stale counts: a
# scroll of a directory whose points there were all deleted (then restored, or re-embedded,
# elsewhere) checks every live point of the segment instead, 2.3 s of disk reads for 10% of
# 1,000,000 (a close evicts the files from the page cache, so every command pays it). The
# engine's own default vacuums from 20%; vectorctl's layout from this share.
VACUUM_SHARE = 0.05
OPTIMIZE_AFTER_DELETED = VACUUM_SHARE
SLOW_OPEN_SECONDS = 1.0  # an open this slow says an optimize is due, whatever the counts
# No HNSW graph (m=0): vectorctl only filters, counts and facets. Building the engine's
# default graph (m=16) took 233 s for 100,000 points here, m=0 6.8 s.
NO_GRAPH_M = 0
# Ids per facet in `value_counts`: far below the size at which Edge estimates facet counts
# instead of counting them, and small enough that the engine reads the ids rather than
# scanning the segment (10,000 ids of 100,000 points: 23 ms, two halves: 6 ms).
VALUE_COUNT_BATCH = 5_000
_DISTANCE = {
    "cosine": qe.Distance.Cosine,
    "dot": qe.Distance.Dot,
    "euclid": qe.Distance.Euclid,
    "manhattan": qe.Distance.Manhattan,
}


class EdgeStore(QdrantEngineStore[qe.Filter]):
    kind = "edge"
    snapshot_kind = "file"
    indexes = EDGE_INDEXES

    def __init__(
        self, directory: str | Path, collection: str, *, lock: DirectoryLock | None = None
    ):
        """Open (or prepare to create) one collection's shard, locking the directory. `lock`
        is the directory lock an already open store of this process holds (`open_collection`):
        it is shared, not taken again nor released by this store."""
        if not collection or collection in (".", "..") or "/" in collection:
            raise ValidationError(f"collection name {collection!r} cannot name a directory")
        root = Path(directory).expanduser()
        self.location = str(root)
        self.collection = collection
        self._path = root / collection
        self._owns_lock = lock is None
        self._lock = lock or DirectoryLock.acquire(root, "Qdrant Edge store")
        try:
            started = time.perf_counter()
            self._shard: qe.EdgeShard | None = self._load()
            self.open_seconds = time.perf_counter() - started
        except BaseException:
            if self._owns_lock:
                self._lock.release()
            raise
        self._upkeep = _read_upkeep(self._path / UPKEEP_FILE)
        self._upkeep_changed = False

    # -- collection -----------------------------------------------------------------------

    def collection_info(self, *, count: bool = True) -> CollectionInfo:
        if self._shard is None:
            return CollectionInfo(self.collection, exists=False)
        config = self._read_config()
        return CollectionInfo(
            self.collection,
            exists=True,
            vector_size=config.get("vector_size"),
            distance=config.get("distance"),
            points_count=self._count(None) if count else None,
        )

    def ensure_collection(self, vector_size: int, distance: str = "cosine") -> None:
        if distance not in DISTANCES:
            raise ValidationError(f"distance must be one of {', '.join(DISTANCES)}")
        if self._shard is None:
            self._create(vector_size, distance)
            return
        existing = self._read_config().get("vector_size")
        if existing is None:
            self._adopt(vector_size, distance)
        elif existing != vector_size:
            raise StoreMismatch(
                f"collection {self.collection!r} in {self.location} holds vectors of size "
                f"{existing}, not {vector_size}"
            )
        self._ensure_indexes()

    def recreate_collection(self) -> None:
        shard = self._require()
        config = self._read_config()
        if not config:
            raise StoreMismatch(
                f"collection {self.collection!r} in {self.location} has no recorded vector "
                "configuration: run a write command once before recreating it"
            )
        shard.close()
        self._shard = None
        # Renamed first, removed last: a process killed half-way leaves either the old shard
        # or none beside the dropped one, never half a shard (finished at the next open).
        shutil.rmtree(self._dropped, ignore_errors=True)
        self._path.rename(self._dropped)
        self._create(int(config["vector_size"]), str(config["distance"] or "cosine"))
        shutil.rmtree(self._dropped)

    def create_snapshot(self) -> str | None:
        return None  # Edge cannot create snapshots: backups are points-level archives

    def close(self) -> None:
        if self._shard is not None:
            self._save_upkeep()
            self._shard.close()
            self._shard = None
        if self._owns_lock:
            self._lock.release()

    def open_collection(self, collection: str) -> EdgeStore:
        # One shard directory per collection under the store directory, one lock for them all.
        if collection == self.collection:
            raise ValidationError(f"collection {collection!r} is this store's own")
        return EdgeStore(self.location, collection, lock=self._lock)

    # -- upkeep ---------------------------------------------------------------------------

    def upkeep(self) -> Upkeep:
        if self._shard is None:
            return Upkeep()
        info = self._shard.info()
        schema = info.payload_schema
        reasons = []
        outdated = _outdated_layout(schema, self._path / ENGINE_CONFIG_FILE)
        if outdated:
            reasons.append(f"its layout predates this vectorctl ({outdated})")
        written, deleted = self._upkeep["written"], self._upkeep["deleted"]
        if written >= OPTIMIZE_AFTER_WRITES:
            reasons.append(f"{written:,} points written since the last optimize")
        if deleted >= max(1_000, OPTIMIZE_AFTER_DELETED * (info.points_count + deleted)):
            reasons.append(f"{deleted:,} points deleted since the last optimize")
        if self.open_seconds >= SLOW_OPEN_SECONDS:
            reasons.append(f"it took {self.open_seconds:.1f} s to open")
        return Upkeep(
            reasons=tuple(reasons),
            missing_indexes=tuple(spec.field for spec in EDGE_INDEXES if spec.field not in schema),
        )

    def optimize(
        self, *, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> OptimizeOutcome:
        """Bring the shard into vectorctl's layout and let the engine rebuild its segments:
        compact deleted versions, turn the appendable segment's points into optimised
        segments with memory-mapped indexes. No point changes.

        The engine's optimize holds the interpreter lock for its whole run and cannot be
        interrupted, so it runs in a child process on the closed shard (this process keeps
        the directory lock): the console stays live, and a cancel kills the child. The
        engine swaps finished segments in atomically, so a killed optimize leaves every point
        in place (checked by killing it at every stage); its scratch files are removed."""
        shard = self._require()
        before = shard.info()
        self._save_upkeep()
        shard.close()
        self._shard = None
        started = time.perf_counter()
        try:
            optimized = _run_optimizer(self._path, progress, cancel)
        finally:
            shutil.rmtree(self._path / TEMP_SEGMENTS, ignore_errors=True)
            reopened = time.perf_counter()
            self._shard = self._load()
            self.open_seconds = time.perf_counter() - reopened
        seconds = reopened - started
        after = self._require().info()
        self._upkeep = {"written": 0, "deleted": 0, "optimized_at": _now()}
        self._upkeep_changed = True
        self._save_upkeep()
        return OptimizeOutcome(
            optimized=optimized,
            points=int(after.points_count),
            segments_before=int(before.segments_count),
            segments_after=int(after.segments_count),
            seconds=seconds,
            open_seconds=self.open_seconds,
        )

    def _count_upkeep(self, key: str, n: int) -> None:
        self._upkeep[key] += n
        self._upkeep_changed = True

    def _save_upkeep(self) -> None:
        """Best effort: the counts only decide when to advise an optimize (a slow open says
        so too), so a store that cannot be written to loses nothing that matters."""
        if not self._upkeep_changed or not self._path.is_dir():
            return
        try:
            (self._path / UPKEEP_FILE).write_text(json.dumps(self._upkeep), encoding="utf-8")
        except OSError:
            return
        self._upkeep_changed = False

    # -- the deployment's collections, search, snapshots ---------------------------------

    def describe(self) -> CollectionSummary:
        if self._shard is None:
            return CollectionSummary(self.collection, exists=False, status="red")
        info = self._shard.info()
        config = self._read_config()
        return CollectionSummary(
            self.collection,
            points=int(info.points_count),
            vector_size=config.get("vector_size"),
            distance=config.get("distance"),
            # Edge has no background optimiser that could be behind or failed: a shard that
            # loads and answers is green.
            status="green",
            optimizer=None,
            segments=int(info.segments_count),
            # With no HNSW graph (m=0, vectorctl's layout unless configured) the engine counts
            # optimised vectors as indexed, yet every search compares the query with each.
            indexed_vectors=int(info.indexed_vectors_count) if _has_graph(self._path) else 0,
            indexes=tuple(
                PayloadIndex(
                    field,
                    _type_name(index.data_type),
                    prefix=bool(getattr(index.params, "prefix", False)),
                    points=int(index.points),
                )
                for field, index in sorted(info.payload_schema.items())
            ),
            disk_bytes=_directory_size(self._path),
        )

    def collection_names(self) -> list[str]:
        """The shard directories: every visible folder (hidden ones are vectorctl's own
        staging folders, such as a shard being replaced)."""
        root = Path(self.location)
        return sorted(
            entry.name
            for entry in root.iterdir()
            if entry.is_dir() and not entry.name.startswith(".") and any(entry.iterdir())
        )

    def search(
        self,
        vector: Sequence[float],
        *,
        limit: int,
        fields: Sequence[str] | None = (F_ASSET_ID, "path"),
    ) -> list[ScoredPoint]:
        request = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(list(vector)),
            with_payload=payload_projection(fields),
            with_vector=False,
        )
        return [
            ScoredPoint(normalize_id(p.id), float(p.score), p.payload or {})
            for p in self._require().query(request)
        ]

    def create_payload_index(self, field: str, kind: str, *, prefix: bool = False) -> None:
        spec = IndexSpec(field, kind, prefix=prefix)
        self._require().update(qe.UpdateOperation.create_field_index(field, index_schema(spec)))

    def write_snapshot(self, out: IO[bytes]) -> dict[str, Any]:
        """A tar of the shard directory, flushed first, in the layout the engine's own
        `EdgeShard.unpack_snapshot` and `update_from_snapshot` take. Consistent: this
        process holds the directory lock and Edge writes only when asked to."""
        shard = self._require()
        shard.flush()
        described = {"points": int(shard.info().points_count), **self._read_config()}
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.GNU_FORMAT) as tar:
            for entry in sorted(self._path.iterdir()):
                if entry.name != RESTORED_FILE:
                    tar.add(entry, arcname=entry.name)
        return described

    def restore_snapshot_file(self, path: Path, marker: dict[str, Any]) -> None:
        """Unpack with the engine (`EdgeShard.unpack_snapshot`) into a staging folder, check
        that it loads, then swap it in by renames: the old shard is kept aside until the new
        one is loaded, so a failure or a kill leaves one whole shard (see `_load`)."""
        staging, replaced = self._restoring, self._replaced
        shutil.rmtree(staging, ignore_errors=True)
        try:
            qe.EdgeShard.unpack_snapshot(str(path), str(staging))
            qe.EdgeShard.load(str(staging)).close()
        except Exception as exc:  # the engine raises bare Exceptions
            shutil.rmtree(staging, ignore_errors=True)
            raise StoreMismatch(
                f"snapshot {path} is not a Qdrant Edge shard this engine can load: "
                f"{first_line(exc)}"
            ) from None
        held = _engine_vector_params(staging / ENGINE_CONFIG_FILE).get("vector_size")
        current = self._read_config().get("vector_size") if self._shard is not None else None
        if current is not None and held != current:
            shutil.rmtree(staging, ignore_errors=True)
            raise StoreMismatch(
                f"snapshot {path} holds vectors of size {held}, collection "
                f"{self.collection!r} of size {current}: it is not restored"
            )
        (staging / RESTORED_FILE).write_text(json.dumps(marker), encoding="utf-8")
        _fsync_tree(staging)
        if self._shard is not None:
            self._shard.close()
            self._shard = None
        shutil.rmtree(replaced, ignore_errors=True)
        if self._path.exists():
            self._path.rename(replaced)
        staging.rename(self._path)
        fsync_path(self._path.parent)
        try:
            self._shard = qe.EdgeShard.load(str(self._path))
        except Exception as exc:  # put the old shard back
            self._path.rename(staging)
            if replaced.exists():
                replaced.rename(self._path)
            shutil.rmtree(staging, ignore_errors=True)
            self._shard = self._load()
            raise StoreMismatch(
                f"the restored shard of {self.collection!r} did not load ({first_line(exc)}); "
                "the collection is as it was"
            ) from None
        shutil.rmtree(replaced, ignore_errors=True)

    def restored_marker(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self._path / RESTORED_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    @property
    def _restoring(self) -> Path:
        """Where a snapshot is unpacked before it replaces the shard."""
        return self._path.with_name(f".{self.collection}.restoring")

    @property
    def _replaced(self) -> Path:
        """Where the shard a snapshot replaces waits until the new one is loaded."""
        return self._path.with_name(f".{self.collection}.replaced")

    def _finish_snapshot_restore(self) -> None:
        """A restore was interrupted: if the restored shard is in place (it carries its
        marker), drop the old one; otherwise put the old one back. A half-unpacked staging
        folder is removed either way."""
        replaced = self._replaced
        if replaced.is_dir():
            if (self._path / RESTORED_FILE).exists():
                shutil.rmtree(replaced)
            else:
                if self._path.exists():
                    shutil.rmtree(self._path)
                replaced.rename(self._path)
        shutil.rmtree(self._restoring, ignore_errors=True)

    # -- points ---------------------------------------------------------------------------

    def retrieve(self, ids: Sequence[PointId], *, with_vectors: bool = False) -> list[Record]:
        shard = self._require()
        records: list[Record] = []
        for batch in batched(normalize_ids(ids), ID_BATCH):
            found = shard.retrieve(list(batch), with_payload=True, with_vector=with_vectors)
            records += [to_record(p.id, p.payload, p.vector) for p in found]
        return records

    def upsert(self, records: Sequence[Record]) -> None:
        shard = self._require()
        for batch in batched(records, UPSERT_BATCH):
            points = [qe.Point(normalize_id(r.id), vector_of(r), r.payload) for r in batch]
            shard.update(qe.UpdateOperation.upsert_points(points))
            self._count_upkeep("written", len(points))

    def set_payload(self, ids: Sequence[PointId], payload: dict[str, Any]) -> None:
        shard = self._require()
        for batch in batched(normalize_ids(ids), ID_BATCH):
            shard.update(qe.UpdateOperation.set_payload(list(batch), payload))
            # A new version of each point, in the appendable segment.
            self._count_upkeep("written", len(batch))

    def update_payloads(self, updates: Sequence[tuple[PointId, dict[str, Any]]]) -> None:
        shard = self._require()
        for group in payload_groups(updates):
            ids: list[Any] = list(group.ids)
            if group.set:
                shard.update(qe.UpdateOperation.set_payload(ids, group.set))
            if group.unset:
                shard.update(qe.UpdateOperation.delete_payload(ids, group.unset))

    def value_counts(self, key: str, ids: Sequence[PointId]) -> dict[Any, int] | None:
        # A facet that is not `exact` but filtered counts the values of the live points that
        # pass the filter, from the payload index - exactly, while the filter's estimated
        # size stays below the engine's sampling threshold (16,641 points; above it the
        # counts are scaled estimates) and `limit` exceeds the number of values. `exact` would
        # run one filtered count per value instead (35 s against 10 ms for 10,000 points).
        shard = self._require()
        if key not in shard.info().payload_schema:
            return None
        counts: dict[Any, int] = {}
        for batch in batched(normalize_ids(ids), VALUE_COUNT_BATCH):
            flt = qe.Filter(must=[qe.HasIdCondition(set(batch))])
            limit = len(batch) + 1
            hits = shard.facet(qe.FacetRequest(key, limit=limit, exact=False, filter=flt)).hits
            if len(hits) >= limit:
                return None  # values may have been cut off
            for hit in hits:
                counts[hit.value] = counts.get(hit.value, 0) + hit.count
        return {value: n for value, n in counts.items() if n > 0}

    # -- engine primitives used by QdrantEngineStore --------------------------------------

    def _may_hold_integer_asset_ids(self) -> bool:
        # The keyword index counts the live points holding a string value (an integer value
        # is not indexed there; deletes and overwrites are counted, in optimised segments
        # too): when that is every point, none holds an integer and the selector stays an
        # index lookup. Otherwise the integer clause costs a scan (0.1 s per 200,000 points).
        info = self._require().info()
        index = info.payload_schema.get(F_ASSET_ID)
        return not (
            index is not None
            and index.data_type == qe.PayloadSchemaType.Keyword
            and index.points >= info.points_count
        )

    def _may_hold_legacy_points(self) -> bool:
        # The `dirs` index counts the live points that have the field: when that is every
        # point, a directory is one index lookup (27 ms for 100,000 of 1,000,000 points)
        # instead of that plus a read of the legacy points' null index and paths (0.3 s).
        info = self._require().info()
        index = info.payload_schema.get(F_DIRS)
        return index is None or index.points < info.points_count

    def _to_filter(self, conditions: list[Condition]) -> qe.Filter:
        return qe.Filter(should=[_condition(c) for c in conditions])

    def _count(self, flt: qe.Filter | None) -> int:
        shard = self._require()
        if flt is None:
            # The shard's live-point total (its segments' id trackers): exact on Edge, which
            # has no background optimiser or replicas, and O(1) where an exact count of
            # everything reads every point (8 ms per 100,000 here; the stats' warm path
            # and every collection_info pay it).
            return int(shard.info().points_count)
        return shard.count(qe.CountRequest(exact=True, filter=flt))

    def _scroll_page(
        self,
        flt: qe.Filter | None,
        offset: PointId | None,
        limit: int,
        with_payload: bool | list[str],
        with_vectors: bool,
    ) -> tuple[list[Record], PointId | None]:
        request = qe.ScrollRequest(
            offset=offset,
            limit=limit,
            filter=flt,
            with_payload=with_payload,
            with_vector=with_vectors,
        )
        points, next_offset = self._require().scroll(request)
        # Reading a property converts it from the engine: touch only what was asked for.
        # Hot (a whole-collection scan makes one Record per point): no per-point call.
        if with_vectors:
            page = [to_record(p.id, p.payload if with_payload else None, p.vector) for p in points]
        elif with_payload:
            page = [
                Record(
                    p_id if type(p_id := p.id) is int else normalize_id(p_id),
                    p.payload or {},
                )
                for p in points
            ]
        else:
            page = [
                Record(p_id if type(p_id := p.id) is int else normalize_id(p_id), {})
                for p in points
            ]
        return page, (None if next_offset is None else normalize_id(next_offset))

    def _scroll_ids_page(
        self, flt: qe.Filter | None, offset: PointId | None, limit: int
    ) -> tuple[list[PointId], PointId | None]:
        request = qe.ScrollRequest(
            offset=offset, limit=limit, filter=flt, with_payload=False, with_vector=False
        )
        points, next_offset = self._require().scroll(request)
        ids = [p_id if type(p_id := p.id) is int else normalize_id(p_id) for p in points]
        return ids, (None if next_offset is None else normalize_id(next_offset))

    def _delete_points(self, ids: list[PointId]) -> None:
        self._require().update(qe.UpdateOperation.delete_points(list(ids)))
        self._count_upkeep("deleted", len(ids))

    def _delete_where(self, flt: qe.Filter) -> None:
        deleted = self._count(flt)
        self._require().update(qe.UpdateOperation.delete_points_by_filter(flt))
        self._count_upkeep("deleted", deleted)

    def _facet(self, key: str, limit: int) -> list[tuple[Any, int]]:
        shard = self._require()
        try:
            response = shard.facet(qe.FacetRequest(key, limit=limit, exact=True))
        except Exception:  # the engine raises bare Exceptions; a missing index is ours to say
            if key not in shard.info().payload_schema:
                raise self._unindexed(key) from None
            raise
        return [(hit.value, hit.count) for hit in response.hits]

    # -- helpers --------------------------------------------------------------------------

    @property
    def _dropped(self) -> Path:
        """Where `recreate_collection` puts the old shard until the new one exists."""
        return self._path.with_name(f".{self.collection}.dropped")

    def _load(self) -> qe.EdgeShard | None:
        self._finish_snapshot_restore()
        if self._dropped.is_dir():
            self._finish_recreate()
        if not self._path.is_dir() or not any(self._path.iterdir()):
            return None
        try:
            return qe.EdgeShard.load(str(self._path))
        except Exception as exc:  # the engine raises bare Exceptions
            raise ConnectionFailed(
                f"Qdrant Edge store {self.location} cannot be opened (is another program "
                f"using it?): {first_line(exc)}"
            ) from None

    def _finish_recreate(self) -> None:
        """A recreate was interrupted after it moved the old shard aside: create the new one
        if it is not there yet (with the old one's configuration), then drop the old."""
        if not self._path.is_dir() or not any(self._path.iterdir()):
            config = _engine_vector_params(self._dropped / ENGINE_CONFIG_FILE)
            if not config.get("vector_size"):
                return  # nothing says how to make the new one: leave both as they are
            self._create(int(config["vector_size"]), str(config["distance"] or "cosine"))
            self._require().close()
            self._shard = None
        shutil.rmtree(self._dropped)

    def _create(self, vector_size: int, distance: str) -> None:
        config = layout_config(vector_size, _DISTANCE[distance])
        self._shard = qe.EdgeShard.create(str(self._path), config)
        self._write_config(vector_size, distance)
        self._upkeep = {"written": 0, "deleted": 0, "optimized_at": None}
        self._upkeep_changed = True
        self._ensure_indexes()

    def _adopt(self, vector_size: int, distance: str) -> None:
        """Record the configuration of a shard whose files name none (the engine writes its
        own on load, so in practice a shard of named vectors only, which the engine then
        refuses), after the engine confirms it matches."""
        self._require().close()
        self._shard = None
        params = qe.EdgeVectorParams(
            size=vector_size, distance=_DISTANCE[distance], memory=qe.Memory.Cold
        )
        try:
            self._shard = qe.EdgeShard.load(str(self._path), qe.EdgeConfig(vectors=params))
        except Exception as exc:  # the engine raises bare Exceptions
            self._shard = self._load()
            raise StoreMismatch(
                f"collection {self.collection!r} in {self.location} does not hold vectors of "
                f"size {vector_size} ({distance}): {first_line(exc)}"
            ) from None
        self._write_config(vector_size, distance)

    def _write_config(self, vector_size: int, distance: str) -> None:
        config = {"vector_size": vector_size, "distance": distance}
        (self._path / CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")

    def _read_config(self) -> dict[str, Any]:
        """Vector size and distance of the unnamed vector: the engine's record first, else
        vectorctl's; empty when neither names them."""
        engine = _engine_vector_params(self._path / ENGINE_CONFIG_FILE)
        if engine:
            return engine
        try:
            text = (self._path / CONFIG_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        data: dict[str, Any] = json.loads(text)
        return data

    def _ensure_indexes(self) -> None:
        """Create the indexes the shard lacks; indexes of an older layout are kept until
        `optimize` (rebuilding them here would hold a write command, and the console, for
        seconds a field on a large shard)."""
        shard = self._require()
        existing = shard.info().payload_schema
        for spec in EDGE_INDEXES:
            if spec.field not in existing:
                shard.update(qe.UpdateOperation.create_field_index(spec.field, index_schema(spec)))

    def _require(self) -> qe.EdgeShard:
        if self._shard is None:
            raise self._missing()
        return self._shard


def _engine_vector_params(path: Path) -> dict[str, Any]:
    """`{"vector_size", "distance"}` of the unnamed vector in the engine's `edge_config.json`
    (`{"vectors": {"": {"size": 512, "distance": "Cosine", ...}}, ...}`); empty when the file
    is missing or unreadable, or the shard has only named vectors."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        params = config["vectors"][""]
        size, distance = int(params["size"]), str(params["distance"]).lower()
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {"vector_size": size, "distance": distance if distance in DISTANCES else None}


def _has_graph(shard: Path) -> bool:
    """Whether the shard builds an HNSW graph (`hnsw_config.m` > 0 in `edge_config.json`;
    the engine's default, m=16, when the file does not say)."""
    try:
        config = json.loads((shard / ENGINE_CONFIG_FILE).read_text(encoding="utf-8"))
        return int(config["hnsw_config"]["m"]) > 0
    except (OSError, ValueError, KeyError, TypeError):
        return True


def _type_name(data_type: Any) -> str:
    """`PayloadSchemaType.Keyword` -> "keyword"."""
    return str(getattr(data_type, "name", data_type)).rsplit(".", 1)[-1].lower()


def _directory_size(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def _fsync_tree(root: Path) -> None:
    """Every file and folder under `root` on disk: before a rename makes it the shard."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_path(Path(folder))


def index_schema(spec: IndexSpec) -> Any:
    """Memory-mapped (`Cold`): an optimised segment maps the index files at load instead of
    building heap maps from them (1,000,000 points, six indexes: 10-12 s an open in RAM,
    0.2 s mapped). Integers for lookups only: vectorctl matches them, never by range (the
    default builds both, two indexes a field)."""
    if spec.kind == "integer":
        return qe.IntegerIndexParams(lookup=True, range=False, memory=qe.Memory.Cold)
    return qe.KeywordIndexParams(memory=qe.Memory.Cold)


def _in_layout(spec: IndexSpec, info: Any) -> bool:
    params = info.params
    if params is None or params.memory != qe.Memory.Cold:  # an index of an older vectorctl
        return False
    return spec.kind != "integer" or (params.lookup is not False and params.range is False)


def outdated_indexes(schema: dict[str, Any]) -> list[str]:
    """vectorctl's indexes in an older layout (kept in RAM, integer ranges, the `path`
    prefix index): what `optimize` rebuilds or drops."""
    fields = [
        spec.field
        for spec in EDGE_INDEXES
        if spec.field in schema and not _in_layout(spec, schema[spec.field])
    ]
    path = schema.get(F_PATH)
    if path is not None and getattr(path.params, "prefix", False):  # vectorctl's own
        fields.append(F_PATH)
    return fields


def layout_config(
    size: int, distance: qe.Distance, *, keep_graph: bool = False, keep_optimizers: bool = False
) -> qe.EdgeConfig:
    """The engine configuration of vectorctl's layout: vectors cold (memory-mapped, read
    when asked for: 173 MB resident instead of 2.2 GB for 1,000,000 vectors of 512); no
    HNSW graph; segments vacuumed from 5% deleted versions. A shard whose configuration
    names a graph or optimiser settings of its own keeps them (`keep_graph`,
    `keep_optimizers`)."""
    params = qe.EdgeVectorParams(size=size, distance=distance, memory=qe.Memory.Cold)
    graph = optimizers = None
    if not keep_graph:  # ef_construct and full_scan_threshold: the engine's defaults
        graph = qe.HnswIndexConfig(m=NO_GRAPH_M, ef_construct=100, full_scan_threshold=10_000)
    if not keep_optimizers:
        optimizers = qe.EdgeOptimizersConfig(deleted_threshold=VACUUM_SHARE)
    return qe.EdgeConfig(vectors=params, hnsw_config=graph, optimizers=optimizers)


def shard_layout_config(shard: Path) -> qe.EdgeConfig | None:
    """vectorctl's layout for the shard in directory `shard`, from its `edge_config.json`;
    None when its unnamed vector has settings of its own (datatype, multivectors,
    quantization) or it has none: a configuration names a vector whole, so such a shard
    keeps the configuration it has."""
    try:
        config = json.loads((shard / ENGINE_CONFIG_FILE).read_text(encoding="utf-8"))
        vector = config["vectors"][""]
        distance = getattr(qe.Distance, str(vector["distance"]))
        size = int(vector["size"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if set(vector) - {"size", "distance", "on_disk", "memory"}:
        return None
    return layout_config(
        size,
        distance,
        keep_graph=config.get("hnsw_config") is not None,
        keep_optimizers=config.get("optimizers") is not None,
    )


def _outdated_layout(schema: dict[str, Any], engine_config: Path) -> str:
    """What of the shard is not in vectorctl's layout, in a few words; empty when all is."""
    parts = []
    indexes = outdated_indexes(schema)
    if indexes:
        parts.append("payload indexes " + ", ".join(indexes) + " of an older layout")
    if shard_layout_config(engine_config.parent) is not None:
        vector = json.loads(engine_config.read_text(encoding="utf-8"))["vectors"][""]
        if vector.get("memory") != "cold":
            parts.append("vectors loaded into memory")
    return "; ".join(parts)


def _read_upkeep(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            "written": int(data["written"]),
            "deleted": int(data["deleted"]),
            "optimized_at": data.get("optimized_at"),
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {"written": 0, "deleted": 0, "optimized_at": None}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- the optimiser's child process -------------------------------------------------------------

POLL_SECONDS = 0.2


def _run_optimizer(
    path: Path, progress: ProgressCallback | None, cancel: CancelToken | None
) -> bool:
    """Run `edge_optimize` on the closed shard at `path`; True when it rebuilt something.

    The child runs in its own session, so a Ctrl-C meant for this process does not reach it:
    this process decides, and kills it when `cancel` is set."""
    from vectorctl.core.store import edge_optimize

    root = str(Path(__file__).absolute().parents[3])  # where `vectorctl` is imported from
    paths = [root, os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    child = subprocess.Popen(
        [sys.executable, "-m", edge_optimize.__name__, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert child.stdout is not None and child.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    errors: list[str] = []
    readers = [
        threading.Thread(target=_pump, args=(child.stdout, lines.put), daemon=True),
        threading.Thread(target=_pump, args=(child.stderr, errors.append), daemon=True),
    ]
    for reader in readers:
        reader.start()
    optimized = False
    phase, started, shown = "", time.monotonic(), 0
    try:
        while True:
            while not lines.empty():
                event = json.loads(lines.get())
                if "optimized" in event:
                    optimized = bool(event["optimized"])
                    continue
                phase, started, shown = str(event["phase"]), time.monotonic(), 0
                report(progress, ProgressEvent(phase, int(event["done"]), event.get("total")))
            if child.poll() is not None:
                break
            if cancel is not None and cancel.is_set():
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                raise Cancelled(
                    "optimize cancelled by the operator: no point changed (segments the "
                    "engine had finished stay optimised); run it again to finish"
                )
            elapsed = int(time.monotonic() - started)
            if phase == "optimizing" and elapsed > shown:  # the engine reports nothing else
                shown = elapsed
                message = f"{elapsed} s (the engine reports no progress of its own)"
                report(progress, ProgressEvent(phase, elapsed, None, message=message))
            time.sleep(POLL_SECONDS)
    except BaseException:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        raise
    for reader in readers:
        reader.join()
    while not lines.empty():
        event = json.loads(lines.get())
        optimized = optimized or bool(event.get("optimized"))
    if child.returncode != 0:
        detail = errors[-1].strip() if errors else f"exit status {child.returncode}"
        raise OperationFailed(f"optimize of Qdrant Edge store {path} failed: {detail}")
    return optimized


def _pump(stream: IO[str], sink: Any) -> None:
    for line in stream:
        sink(line)


def _condition(condition: Condition) -> Any:
    match condition:
        case MatchValue(key, value):
            return qe.FieldCondition(key=key, match=qe.MatchValue(value))
        case MatchAny(key, values):
            return qe.FieldCondition(key=key, match=qe.MatchAny(values))
        case HasId(ids):
            return qe.HasIdCondition(set(ids))
        case IsEmpty(key):
            return qe.IsEmptyCondition(key)
        case LegacyUnder(prefix):
            return qe.Filter(
                must=[
                    qe.IsEmptyCondition(F_DIRS),
                    qe.FieldCondition(key=F_PATH, match=qe.MatchPrefix(prefix)),
                ]
            )
    raise TypeError(f"unknown condition {condition!r}")
