"""The vector store over qdrant-client: a Qdrant server (URL + API key) or local mode (a path).

Against a server: payload indexes are created for everything vectorctl filters or facets
on (facet refuses unindexed fields), counts are exact, writes wait and are strongly ordered
(a delete racing an upsert of the same id applies in the order sent), reads of a cluster ask
every replica, and bulk calls get a generous timeout because the client's default (5 s)
gives up while the server carries on. Servers before 1.19 reject MatchPrefix: directory
selectors then find legacy points by reading their paths (see QdrantEngineStore).

Local mode ignores payload indexes (and warns about them), so none are created there; it
commits each deleted point separately, so ids are deleted in few large calls.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sqlite3
import tarfile
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
from httpx import TimeoutException
from pydantic import BaseModel
from qdrant_client import QdrantClient
from qdrant_client import models as m
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from vectorctl.core.durable import fsync_path
from vectorctl.core.errors import ConnectionFailed, StoreMismatch, Unsupported, ValidationError
from vectorctl.core.settings import mask_url
from vectorctl.core.store.base import (
    F_ASSET_ID,
    F_DIRS,
    F_PATH,
    CollectionInfo,
    CollectionSummary,
    PayloadIndex,
    PointId,
    Record,
    ScoredPoint,
    SnapshotInfo,
)
from vectorctl.core.store.common import (
    DISTANCES,
    ID_BATCH,
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
    indexes_to_create,
    normalize_id,
    normalize_ids,
    payload_groups,
    payload_projection,
    to_record,
    vector_of,
)
from vectorctl.core.store.lock import DirectoryLock

PROBE_TIMEOUT = 10  # seconds to decide that a server is unreachable
BULK_TIMEOUT = 600  # seconds for one count, scroll page, facet, delete or snapshot
PREFIX_MATCH_SINCE = (1, 19)
# Reads of a cluster ask every replica: a read right after a delete must not meet a replica
# that has not applied it yet. Writes wait and keep their order. Harmless on one node.
READ = m.ReadConsistencyType.ALL
ORDER = m.WriteOrdering.STRONG
_DISTANCE = {
    "cosine": m.Distance.COSINE,
    "dot": m.Distance.DOT,
    "euclid": m.Distance.EUCLID,
    "manhattan": m.Distance.MANHATTAN,
}
_DISTANCE_NAME = {v: k for k, v in _DISTANCE.items()}


def connect_server(url: str, api_key: str | None, collection: str) -> QdrantClientStore:
    """Connect to a server, failing fast with one line (URL shown, API key never) when it
    cannot be reached or refuses the key."""
    location = mask_url(url)
    probe = _client(url, api_key, PROBE_TIMEOUT)
    try:
        version = probe.info().version
    except Exception as exc:
        raise ConnectionFailed(f"Qdrant server {location} {_failure(exc, api_key)}") from None
    finally:
        probe.close()
    store = QdrantClientStore(
        _client(url, api_key, BULK_TIMEOUT),
        kind="server",
        location=location,
        collection=collection,
        prefix_match=_version(version) >= PREFIX_MATCH_SINCE,
    )
    store._server = (url.rstrip("/"), api_key)
    return store


def _local_client(directory: Path) -> QdrantClient:
    with warnings.catch_warnings():
        # "Local mode is not recommended for more than 20,000 points": known, and noise
        # in an operator's terminal.
        warnings.simplefilter("ignore", UserWarning)
        # The TUI opens the store in one worker thread and uses it from later ones (one
        # at a time); where SQLite is not built fully thread-safe (macOS), qdrant-client
        # would refuse that by default.
        return QdrantClient(path=str(directory), force_disable_check_same_thread=True)


def _client(url: str, api_key: str | None, timeout: int) -> QdrantClient:
    with warnings.catch_warnings():
        # "Api key is used with an insecure connection" arrives as a Python warning with a
        # source line, breaking the one-line output an operator's console and scripts get;
        # the URL the operator configured already says http.
        warnings.simplefilter("ignore", UserWarning)
        return QdrantClient(url=url, api_key=api_key, timeout=timeout, check_compatibility=False)


def open_local(path: str | Path, collection: str) -> QdrantClientStore:
    """Open a local-mode directory for this process only (local mode has MatchPrefix)."""
    directory = Path(path).expanduser()
    lock = DirectoryLock.acquire(directory, "qdrant-client local store")
    try:
        _finish_local_restores(directory)
        client = _local_client(directory)
    except RuntimeError as exc:  # qdrant-client's own lock, held by a program that isn't us
        lock.release()
        raise ConnectionFailed(
            f"qdrant-client local store {directory} is in use by another program: {first_line(exc)}"
        ) from None
    except BaseException:
        lock.release()
        raise
    return QdrantClientStore(
        client,
        kind="local",
        location=str(directory),
        collection=collection,
        prefix_match=True,
        lock=lock,
    )


class QdrantClientStore(QdrantEngineStore[m.Filter]):
    def __init__(
        self,
        client: QdrantClient,
        *,
        kind: str,
        location: str,
        collection: str,
        prefix_match: bool,
        lock: DirectoryLock | None = None,
        shared: bool = False,
    ):
        self.kind = kind
        self.location = location
        self.collection = collection
        self.prefix_match = prefix_match
        self._client = client
        self._lock = lock
        self._shared = shared  # the client belongs to the store that opened this one
        # The server's URL and API key, for the snapshot transfers qdrant-client has no
        # streaming call for; never shown.
        self._server: tuple[str, str | None] | None = None
        self.snapshot_kind = {"server": "server", "local": "file"}.get(kind)

    # -- collection -----------------------------------------------------------------------

    def collection_info(self, *, count: bool = True) -> CollectionInfo:
        with self._calls():
            if not self._client.collection_exists(self.collection):
                return CollectionInfo(self.collection, exists=False)
            vectors = self._vector_params(self._client.get_collection(self.collection))
            return CollectionInfo(
                self.collection,
                exists=True,
                vector_size=vectors.size if vectors else None,
                distance=_DISTANCE_NAME.get(vectors.distance) if vectors else None,
                points_count=self._count(None) if count else None,
            )

    def ensure_collection(self, vector_size: int, distance: str = "cosine") -> None:
        if distance not in DISTANCES:
            raise ValidationError(f"distance must be one of {', '.join(DISTANCES)}")
        with self._calls():
            if not self._client.collection_exists(self.collection):
                self._client.create_collection(
                    self.collection,
                    vectors_config=m.VectorParams(size=vector_size, distance=_DISTANCE[distance]),
                    timeout=BULK_TIMEOUT,
                )
            else:
                info = self._client.get_collection(self.collection)
                vectors = self._vector_params(info)
                if vectors is not None and vectors.size != vector_size:
                    raise StoreMismatch(
                        f"collection {self.collection!r} on {self.kind} store {self.location} "
                        f"holds vectors of size {vectors.size}, not {vector_size}"
                    )
            self._ensure_indexes()

    def recreate_collection(self) -> None:
        """Drop and create again with the same configuration (vectors, shards, replication,
        HNSW, optimisers, WAL, quantization, on-disk payload, metadata) and the same payload
        indexes plus vectorctl's: a reset must not quietly change how a cluster behaves."""
        with self._calls():
            info = self._client.get_collection(self.collection)
            config, params = info.config, info.config.params
            self._client.delete_collection(self.collection, timeout=BULK_TIMEOUT)
            self._client.create_collection(
                self.collection,
                vectors_config=params.vectors,
                sparse_vectors_config=params.sparse_vectors,
                shard_number=params.shard_number,
                replication_factor=params.replication_factor,
                write_consistency_factor=params.write_consistency_factor,
                on_disk_payload=params.on_disk_payload,
                hnsw_config=_diff(m.HnswConfigDiff, config.hnsw_config),
                optimizers_config=_diff(m.OptimizersConfigDiff, config.optimizer_config),
                wal_config=_diff(m.WalConfigDiff, config.wal_config),
                quantization_config=config.quantization_config,
                metadata=config.metadata,
                timeout=BULK_TIMEOUT,
            )
            for field, index in (info.payload_schema or {}).items():
                self._create_index(field, index.params or index.data_type)
            self._ensure_indexes()

    def create_snapshot(self) -> str | None:
        if self.kind != "server":
            return None  # local mode has no snapshots: backups are points-level archives
        with self._calls():
            snapshot = self._client.create_snapshot(self.collection, wait=True)
        return snapshot.name if snapshot else None

    def close(self) -> None:
        if self._shared:
            return  # the client and the lock belong to the store this one was opened from
        self._client.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # -- the deployment's collections, search, snapshots and aliases ----------------------

    def describe(self) -> CollectionSummary:
        with self._calls():
            if not self._client.collection_exists(self.collection):
                return CollectionSummary(self.collection, exists=False, status="red")
            info = self._client.get_collection(self.collection)
            vectors = self._vector_params(info)
            optimizer = info.optimizer_status
            queue = info.update_queue
            return CollectionSummary(
                self.collection,
                points=self._count(None),
                vector_size=vectors.size if vectors else None,
                distance=_DISTANCE_NAME.get(vectors.distance) if vectors else None,
                status=str(getattr(info.status, "value", info.status)),
                optimizer=getattr(optimizer, "error", None) or "ok",
                segments=info.segments_count,
                indexed_vectors=info.indexed_vectors_count,
                indexes=tuple(
                    PayloadIndex(
                        field,
                        str(getattr(index.data_type, "value", index.data_type)),
                        prefix=bool(getattr(index.params, "prefix", False)),
                        points=index.points,
                    )
                    for field, index in sorted((info.payload_schema or {}).items())
                ),
                # A server does not report disk use through its API; local mode's is its
                # collection folder.
                disk_bytes=_folder_size(self._local_folder()) if self.kind == "local" else None,
                pending_operations=queue.length if queue is not None else None,
            )

    def collection_names(self) -> list[str]:
        with self._calls():
            return sorted(c.name for c in self._client.get_collections().collections)

    def open_collection(self, collection: str) -> QdrantClientStore:
        # The same client: a local-mode directory holds every collection under one lock.
        if collection == self.collection:
            raise ValidationError(f"collection {collection!r} is this store's own")
        other = QdrantClientStore(
            self._client,
            kind=self.kind,
            location=self.location,
            collection=collection,
            prefix_match=self.prefix_match,
            shared=True,
        )
        other._server = self._server
        return other

    def search(
        self,
        vector: Sequence[float],
        *,
        limit: int,
        fields: Sequence[str] | None = (F_ASSET_ID, F_PATH),
    ) -> list[ScoredPoint]:
        with self._calls():
            response = self._client.query_points(
                self.collection,
                query=list(vector),
                limit=limit,
                with_payload=payload_projection(fields),
                with_vectors=False,
                timeout=BULK_TIMEOUT,
            )
        return [
            ScoredPoint(normalize_id(p.id), float(p.score), p.payload or {})
            for p in response.points
        ]

    def create_payload_index(self, field: str, kind: str, *, prefix: bool = False) -> None:
        if self.kind == "local":
            raise Unsupported("qdrant-client local mode has no payload indexes (it scans)")
        with self._calls():
            self._create_index(field, self._schema(IndexSpec(field, kind, prefix=prefix)))

    def aliases(self) -> dict[str, str]:
        with self._calls():
            described = self._client.get_aliases().aliases
        return {a.alias_name: a.collection_name for a in described}

    def switch_alias(self, alias: str, collection: str) -> None:
        """Delete and create in one request: the server applies the pair under one lock, so
        no search meets the alias missing or half-switched."""
        with self._calls():
            self._client.update_collection_aliases(
                change_aliases_operations=[
                    m.DeleteAliasOperation(delete_alias=m.DeleteAlias(alias_name=alias)),
                    m.CreateAliasOperation(
                        create_alias=m.CreateAlias(collection_name=collection, alias_name=alias)
                    ),
                ],
                timeout=BULK_TIMEOUT,
            )

    # Server snapshots live on the server (per node): listed, created, fetched, recovered
    # and deleted through its API.

    def server_snapshots(self) -> list[SnapshotInfo]:
        self._require_server("snapshots")
        with self._calls():
            described = self._client.list_snapshots(self.collection)
        return [
            SnapshotInfo(s.name, s.size, _iso_utc(s.creation_time), s.checksum)
            for s in sorted(described, key=lambda s: (s.creation_time or "", s.name))
        ]

    def delete_server_snapshot(self, name: str) -> None:
        self._require_server("snapshots")
        with self._calls():
            self._client.delete_snapshot(self.collection, name, wait=True)

    def download_server_snapshot(self, name: str, out: IO[bytes]) -> int:
        url, api_key = self._require_server("snapshots")
        written = 0
        headers = {"api-key": api_key} if api_key else {}
        try:
            with httpx.stream(
                "GET",
                f"{url}/collections/{_quote(self.collection)}/snapshots/{_quote(name)}",
                headers=headers,
                timeout=BULK_TIMEOUT,
            ) as response:
                if response.status_code != 200:
                    response.read()
                    raise StoreMismatch(
                        f"Qdrant server {self.location} refused snapshot {name!r} of "
                        f"{self.collection!r} ({response.status_code}): "
                        f"{_error_text(response.content)}"
                    )
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
                    written += len(chunk)
        except httpx.HTTPError as exc:
            raise ConnectionFailed(
                f"Qdrant server {self.location} failed while sending snapshot {name!r}: "
                f"{_failure(exc, api_key)}"
            ) from None
        return written

    def recover_server_snapshot(self, name: str, *, checksum: str | None) -> None:
        """The server fetches the snapshot from its own snapshot URL (the one this client
        uses), with the same API key; `priority=snapshot` makes the snapshot's data win
        over what the collection holds now."""
        url, api_key = self._require_server("snapshots")
        with self._calls():
            self._client.recover_snapshot(
                self.collection,
                location=f"{url}/collections/{_quote(self.collection)}/snapshots/{_quote(name)}",
                api_key=api_key,
                checksum=checksum,
                priority=m.SnapshotPriority.SNAPSHOT,
                wait=True,
            )

    def upload_server_snapshot(self, path: Path, *, checksum: str | None) -> None:
        self._require_server("snapshots")
        with self._calls(), path.open("rb") as snapshot:
            self._client.http.snapshots_api.recover_from_uploaded_snapshot(
                collection_name=self.collection,
                wait=True,
                priority=m.SnapshotPriority.SNAPSHOT,
                snapshot=snapshot,
                **({"checksum": checksum} if checksum else {}),
            )

    # Local mode has no snapshots of its own: a snapshot is a consistent copy of the
    # collection's folder (its SQLite file, copied with SQLite's backup API while this
    # process holds the directory lock) and the collection's configuration.

    def write_snapshot(self, out: IO[bytes]) -> dict[str, Any]:
        self._require_local("write a snapshot file")
        with self._calls():
            info = self._client.get_collection(self.collection)
        vectors = self._vector_params(info)
        described = {
            "points": self._count(None),
            "vector_size": vectors.size if vectors else None,
            "distance": _DISTANCE_NAME.get(vectors.distance) if vectors else None,
        }
        config = _local_meta(Path(self.location))["collections"][self.collection]
        with tempfile.TemporaryDirectory(dir=self.location, prefix=".snapshot-") as tmp:
            copy = Path(tmp) / LOCAL_STORAGE
            source = sqlite3.connect(self._local_folder() / LOCAL_STORAGE)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.GNU_FORMAT) as tar:
                _add_bytes(tar, LOCAL_SNAPSHOT_CONFIG, json.dumps(config).encode())
                tar.add(copy, arcname=LOCAL_STORAGE)
        return described

    def restore_snapshot_file(self, path: Path, marker: dict[str, Any]) -> None:
        """Replace the collection's folder by the snapshot's, by renames (the old folder is
        kept aside until the client has loaded the new one: see `_finish_local_restores`),
        then reopen the client, which reads collections only when it opens."""
        self._require_local("restore a snapshot file")
        folder = self._local_folder()
        staging = folder.with_name(f".{self.collection}.restoring")
        replaced = folder.with_name(f".{self.collection}.replaced")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            config = _unpack_local_snapshot(path, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        snapshot_size = (config.get("vectors") or {}).get("size")
        current = self.collection_info()
        if current.exists and current.vector_size not in (None, snapshot_size):
            shutil.rmtree(staging, ignore_errors=True)
            raise StoreMismatch(
                f"snapshot {path} holds vectors of size {snapshot_size}, collection "
                f"{self.collection!r} of size {current.vector_size}: it is not restored"
            )
        if not current.exists:
            with self._calls():
                self._client.create_collection(
                    self.collection, vectors_config=m.VectorParams(**config["vectors"])
                )
        (staging / RESTORED_FILE).write_text(json.dumps(marker), encoding="utf-8")
        fsync_path(staging / LOCAL_STORAGE)
        fsync_path(staging / RESTORED_FILE)
        self._client.close()
        shutil.rmtree(replaced, ignore_errors=True)
        if folder.exists():
            folder.rename(replaced)
        staging.rename(folder)
        fsync_path(folder.parent)
        try:
            self._client = _local_client(Path(self.location))
        except Exception:
            folder.rename(staging)
            if replaced.exists():
                replaced.rename(folder)
            shutil.rmtree(staging, ignore_errors=True)
            self._client = _local_client(Path(self.location))
            raise
        shutil.rmtree(replaced, ignore_errors=True)

    def restored_marker(self) -> dict[str, Any] | None:
        if self.kind != "local":
            return None
        try:
            data = json.loads((self._local_folder() / RESTORED_FILE).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _local_folder(self) -> Path:
        return Path(self.location) / "collection" / self.collection

    def _require_server(self, what: str) -> tuple[str, str | None]:
        if self._server is None:
            raise Unsupported(
                f"qdrant-client local mode has no {what} of its own: vectorctl keeps snapshot "
                "files of embedded stores in its data directory"
            )
        return self._server

    def _require_local(self, what: str) -> None:
        if self.kind != "local":
            raise Unsupported(f"a Qdrant server keeps its own snapshots: it cannot {what}")

    # -- points ---------------------------------------------------------------------------

    def retrieve(self, ids: Sequence[PointId], *, with_vectors: bool = False) -> list[Record]:
        records: list[Record] = []
        with self._calls():
            for batch in batched(normalize_ids(ids), ID_BATCH):
                found = self._client.retrieve(
                    self.collection,
                    list(batch),
                    with_payload=True,
                    with_vectors=with_vectors,
                    consistency=READ,
                    timeout=BULK_TIMEOUT,
                )
                records += [to_record(p.id, p.payload, p.vector) for p in found]
        return records

    def upsert(self, records: Sequence[Record]) -> None:
        with self._calls():
            for batch in batched(records, UPSERT_BATCH):
                points = [
                    m.PointStruct(id=normalize_id(r.id), vector=vector_of(r), payload=r.payload)
                    for r in batch
                ]
                self._client.upsert(
                    self.collection, points, wait=True, ordering=ORDER, timeout=BULK_TIMEOUT
                )

    def set_payload(self, ids: Sequence[PointId], payload: dict[str, Any]) -> None:
        with self._calls():
            for batch in batched(normalize_ids(ids), ID_BATCH):
                self._client.set_payload(
                    self.collection,
                    payload,
                    list(batch),
                    wait=True,
                    ordering=ORDER,
                    timeout=BULK_TIMEOUT,
                )

    def update_payloads(self, updates: Sequence[tuple[PointId, dict[str, Any]]]) -> None:
        operations: list[m.SetPayloadOperation | m.DeletePayloadOperation] = []
        for group in payload_groups(updates):
            points = list[m.ExtendedPointId](group.ids)
            if group.set:
                payload = m.SetPayload(payload=group.set, points=points)
                operations.append(m.SetPayloadOperation(set_payload=payload))
            if group.unset:
                keys = m.DeletePayload(keys=group.unset, points=points)
                operations.append(m.DeletePayloadOperation(delete_payload=keys))
        with self._calls():
            # One request for many groups: a path repair has one group per point.
            for batch in batched(operations, UPSERT_BATCH):
                self._client.batch_update_points(
                    self.collection, list(batch), wait=True, ordering=ORDER, timeout=BULK_TIMEOUT
                )

    # -- engine primitives used by QdrantEngineStore --------------------------------------

    def _to_filter(self, conditions: list[Condition]) -> m.Filter:
        return m.Filter(should=[_condition(c) for c in conditions])

    def _count(self, flt: m.Filter | None) -> int:
        # count takes no read consistency: after a waited, strongly ordered delete this is
        # as fresh as the API allows.
        with self._calls():
            result = self._client.count(
                self.collection, count_filter=flt, exact=True, timeout=BULK_TIMEOUT
            )
        return result.count

    def _scroll_page(
        self,
        flt: m.Filter | None,
        offset: PointId | None,
        limit: int,
        with_payload: bool | list[str],
        with_vectors: bool,
    ) -> tuple[list[Record], PointId | None]:
        with self._calls():
            points, next_offset = self._client.scroll(
                self.collection,
                scroll_filter=flt,
                limit=limit,
                offset=offset,
                with_payload=with_payload,
                with_vectors=with_vectors,
                consistency=READ,
                timeout=BULK_TIMEOUT,
            )
        page = [to_record(p.id, p.payload, p.vector) for p in points]
        return page, (None if next_offset is None else normalize_id(next_offset))

    def _delete_points(self, ids: list[PointId]) -> None:
        with self._calls():
            self._client.delete(
                self.collection,
                m.PointIdsList(points=list[m.ExtendedPointId](ids)),
                wait=True,
                ordering=ORDER,
                timeout=BULK_TIMEOUT,
            )

    def _delete_where(self, flt: m.Filter) -> None:
        with self._calls():
            self._client.delete(
                self.collection,
                m.FilterSelector(filter=flt),
                wait=True,
                ordering=ORDER,
                timeout=BULK_TIMEOUT,
            )

    def _facet(self, key: str, limit: int) -> list[tuple[Any, int]]:
        with self._calls():
            try:
                response = self._client.facet(
                    self.collection,
                    key,
                    limit=limit,
                    exact=True,
                    consistency=READ,
                    timeout=BULK_TIMEOUT,
                )
            except UnexpectedResponse as exc:
                if exc.status_code == 400 and key not in self._index_schema():
                    raise self._unindexed(key) from None
                raise
        return [(hit.value, hit.count) for hit in response.hits]

    # -- helpers --------------------------------------------------------------------------

    @contextmanager
    def _calls(self) -> Iterator[None]:
        """Turn engine failures an operator can act on into typed errors (one line each)."""
        try:
            yield
        except ResponseHandlingException as exc:
            raise ConnectionFailed(f"Qdrant server {self.location} {_failure(exc, None)}") from None
        except UnexpectedResponse as exc:
            if exc.status_code in (401, 403):
                raise ConnectionFailed(
                    f"Qdrant server {self.location} {_failure(exc, None)}"
                ) from None
            if exc.status_code == 404 and not self._client.collection_exists(self.collection):
                raise self._missing() from None
            raise
        except ValueError:  # local mode's "Collection ... not found"
            if self.kind == "local" and not self._client.collection_exists(self.collection):
                raise self._missing() from None
            raise

    def _vector_params(self, info: m.CollectionInfo) -> m.VectorParams | None:
        """The unnamed vector's parameters (the image-search service uses one unnamed vector)."""
        vectors = info.config.params.vectors
        if isinstance(vectors, dict):
            return vectors.get("")
        return vectors

    def _index_schema(self) -> dict[str, Any]:
        return dict(self._client.get_collection(self.collection).payload_schema or {})

    def _ensure_indexes(self) -> None:
        if self.kind == "local":
            return  # local mode has no payload indexes; filters and facets work without
        existing = {k: v.params for k, v in self._index_schema().items()}
        for spec in indexes_to_create(existing, prefix_match=self.prefix_match):
            self._create_index(spec.field, self._schema(spec))

    def _schema(self, spec: IndexSpec) -> Any:
        if spec.kind == "integer":
            return m.PayloadSchemaType.INTEGER
        if spec.prefix and self.prefix_match:
            return m.KeywordIndexParams(type=m.KeywordIndexType.KEYWORD, prefix=True)
        return m.PayloadSchemaType.KEYWORD

    def _create_index(self, field: str, schema: Any) -> None:
        self._client.create_payload_index(
            self.collection,
            field,
            field_schema=schema,
            wait=True,
            ordering=ORDER,
            timeout=BULK_TIMEOUT,
        )


LOCAL_STORAGE = "storage.sqlite"  # qdrant-client local mode's file of a collection's points
LOCAL_SNAPSHOT_CONFIG = "collection.json"  # its entry in the folder's meta.json
RESTORED_FILE = "vectorctl-restored.json"  # in a collection folder restored from a snapshot


def _local_meta(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    return data


def _unpack_local_snapshot(path: Path, staging: Path) -> dict[str, Any]:
    """Check a local-mode snapshot (exactly its two members, the SQLite file whole) and
    unpack its points file into `staging`; returns the collection's configuration."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            members = {member.name: member for member in tar.getmembers()}
            if set(members) != {LOCAL_SNAPSHOT_CONFIG, LOCAL_STORAGE} or not all(
                member.isfile() for member in members.values()
            ):
                raise StoreMismatch(
                    f"snapshot {path} is not a qdrant-client local-mode snapshot "
                    f"(members: {', '.join(sorted(members)) or 'none'})"
                )
            config_file = tar.extractfile(members[LOCAL_SNAPSHOT_CONFIG])
            assert config_file is not None
            config: dict[str, Any] = json.loads(config_file.read())
            tar.extract(members[LOCAL_STORAGE], staging, filter="data")
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise StoreMismatch(f"snapshot {path} cannot be read: {first_line(exc)}") from None
    check = sqlite3.connect(staging / LOCAL_STORAGE)
    try:
        if check.execute("PRAGMA integrity_check").fetchone() != ("ok",):
            raise StoreMismatch(f"the points file in snapshot {path} is damaged")
        check.execute("SELECT count(*) FROM points").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreMismatch(f"snapshot {path} holds no readable points: {exc}") from None
    finally:
        check.close()
    if not isinstance(config.get("vectors"), dict) or "size" not in config["vectors"]:
        raise StoreMismatch(f"snapshot {path} holds a collection without one unnamed vector")
    return config


def _finish_local_restores(directory: Path) -> None:
    """A restore interrupted by a kill: keep the restored folder where it was put in place
    (it carries its marker), otherwise put the old one back; drop half-unpacked ones."""
    folders = directory / "collection"
    if not folders.is_dir():
        return
    for entry in folders.iterdir():
        name = entry.name
        if name.startswith(".") and name.endswith(".restoring"):
            shutil.rmtree(entry, ignore_errors=True)
        elif name.startswith(".") and name.endswith(".replaced"):
            folder = folders / name[1 : -len(".replaced")]
            if (folder / RESTORED_FILE).exists():
                shutil.rmtree(entry)
            else:
                if folder.exists():
                    shutil.rmtree(folder)
                entry.rename(folder)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    tar.addfile(member, io.BytesIO(data))


def _folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


def _quote(part: str) -> str:
    from urllib.parse import quote

    return quote(part, safe="")


def _iso_utc(text: str | None) -> str | None:
    """A server's snapshot time (`2024-05-01T10:00:00`, UTC without a zone) in ISO 8601 UTC."""
    if not text:
        return None
    return text if text.endswith(("Z", "+00:00")) else f"{text}+00:00"


def _error_text(body: bytes) -> str:
    try:
        return str(json.loads(body)["status"]["error"])
    except (ValueError, KeyError, TypeError):
        return body[:200].decode("utf-8", "replace") or "no detail"


def _condition(condition: Condition) -> Any:
    match condition:
        case MatchValue(key, value):
            return m.FieldCondition(key=key, match=m.MatchValue(value=value))
        case MatchAny(key, values):
            return m.FieldCondition(key=key, match=m.MatchAny(any=values))
        case HasId(ids):
            return m.HasIdCondition(has_id=list(ids))
        case IsEmpty(key):
            return m.IsEmptyCondition(is_empty=m.PayloadField(key=key))
        case LegacyUnder(prefix):
            return m.Filter(
                must=[
                    m.IsEmptyCondition(is_empty=m.PayloadField(key=F_DIRS)),
                    m.FieldCondition(key=F_PATH, match=m.MatchPrefix(prefix=prefix)),
                ]
            )
    raise TypeError(f"unknown condition {condition!r}")


DiffT = TypeVar("DiffT", bound=BaseModel)


def _diff(cls: type[DiffT], current: BaseModel | None) -> DiffT | None:
    """A collection's current setting as the `...Diff` model that create_collection takes."""
    return None if current is None else cls(**current.model_dump(exclude_none=True))


def _version(text: str) -> tuple[int, ...]:
    """`1.18.2` -> (1, 18); an unparseable version is taken to be recent."""
    numbers = [int(n) for n in re.findall(r"\d+", text)[:2]]
    return tuple(numbers) if len(numbers) == 2 else (999, 0)


def _failure(exc: Exception, api_key: str | None) -> str:
    """What went wrong, as the end of "Qdrant server URL ..." (one line, never the API key)."""
    if isinstance(exc, UnexpectedResponse) and exc.status_code in (401, 403):
        text = f"refused the API key ({exc.status_code})"
    elif isinstance(exc, ResponseHandlingException) and isinstance(exc.source, TimeoutException):
        # The server may still be applying a write it timed out on: callers count again.
        text = "did not answer in time (a write may still be in progress: count to verify)"
    elif isinstance(exc, ResponseHandlingException):
        text = f"cannot be reached: {first_line(exc.source)}"
    else:
        text = f"failed: {first_line(exc)}"
    return f"failed: {type(exc).__name__}" if api_key and api_key in text else text
