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

import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from httpx import TimeoutException
from pydantic import BaseModel
from qdrant_client import QdrantClient
from qdrant_client import models as m
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from core.errors import ConnectionFailed, StoreMismatch, ValidationError
from core.settings import mask_url
from core.store.base import F_DIRS, F_PATH, CollectionInfo, PointId, Record
from core.store.common import (
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
    to_record,
    vector_of,
)
from core.store.lock import DirectoryLock

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
    return QdrantClientStore(
        _client(url, api_key, BULK_TIMEOUT),
        kind="server",
        location=location,
        collection=collection,
        prefix_match=_version(version) >= PREFIX_MATCH_SINCE,
    )


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
        with warnings.catch_warnings():
            # "Local mode is not recommended for more than 20,000 points": known, and noise
            # in an operator's terminal.
            warnings.simplefilter("ignore", UserWarning)
            # The TUI opens the store in one worker thread and uses it from later ones (one
            # at a time); where SQLite is not built fully thread-safe (macOS), qdrant-client
            # would refuse that by default.
            client = QdrantClient(path=str(directory), force_disable_check_same_thread=True)
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

    # -- collection -----------------------------------------------------------------------

    def collection_info(self) -> CollectionInfo:
        with self._calls():
            if not self._client.collection_exists(self.collection):
                return CollectionInfo(self.collection, exists=False)
            vectors = self._vector_params(self._client.get_collection(self.collection))
            return CollectionInfo(
                self.collection,
                exists=True,
                vector_size=vectors.size if vectors else None,
                distance=_DISTANCE_NAME.get(vectors.distance) if vectors else None,
                points_count=self._count(None),
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
            return
        self._client.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def open_collection(self, collection: str) -> QdrantClientStore:
        # The same client: a local-mode directory holds every collection under one lock.
        return QdrantClientStore(
            self._client,
            kind=self.kind,
            location=self.location,
            collection=collection,
            prefix_match=self.prefix_match,
            shared=True,
        )

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
