"""The deployment's collections: what each one holds and how it is set up, the payload
indexes vectorctl's operations need, and the two changes an operator makes to that set-up:
creating the missing indexes and switching an alias (blue/green). Both changes are audited
runs of the destructive-operation protocol (`core.protocol`), like every change vectorctl
makes.

Every engine is asked the same questions (`VectorStore.describe`, `collection_names`,
`aliases`); other collections of an embedded store are opened beside the active one, under
the same directory lock (`VectorStore.open_collection`), and closed again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from vectorctl.core import protocol
from vectorctl.core.errors import SelectionChanged, Unsupported, ValidationError, VectorctlError
from vectorctl.core.progress import CancelToken, ProgressCallback
from vectorctl.core.results import JsonResult
from vectorctl.core.store.base import (
    F_ASSET_ID,
    F_CATEGORY_ID,
    F_DIR,
    F_DIRS,
    F_PATH,
    F_SESSION_ID,
    CollectionSummary,
    PayloadIndex,
    VectorStore,
)
from vectorctl.core.store.common import INDEXES, IndexSpec, QdrantEngineStore, indexes_to_create
from vectorctl.core.targets import ALIAS_SWITCH, PAYLOAD_INDEX

# What each of vectorctl's payload indexes makes fast (or, on a server, possible at all).
NEEDED_FOR = {
    F_DIRS: "directory statistics (facet) and directory deletes",
    F_DIR: "direct counts per directory (facet)",
    F_ASSET_ID: "asset deletes and previews",
    F_PATH: "directory deletes of legacy points (prefix match)",
    F_CATEGORY_ID: "category deletes",
    F_SESSION_ID: "session deletes",
}


@dataclass
class IndexRow(JsonResult):
    field: str
    kind: str | None  # the engine's index type; None when missing
    prefix: bool
    points: int | None
    needed_for: str | None  # what vectorctl uses it for; None: not one of vectorctl's
    missing: bool  # vectorctl needs it and it is not there (or lacks its prefix option)


@dataclass
class CollectionRow(JsonResult):
    name: str
    active: bool  # the collection this vectorctl is configured for
    exists: bool
    points: int | None
    vector_size: int | None
    distance: str | None
    status: str  # green, yellow, red, grey
    optimizer: str | None
    segments: int | None
    indexed_vectors: int | None
    disk_bytes: int | None
    pending_operations: int | None
    aliases: list[str] = field(default_factory=list)
    indexes: list[IndexRow] = field(default_factory=list)
    missing_indexes: list[str] = field(default_factory=list)
    indexes_supported: bool = True  # local mode has none (it scans)
    error: str | None = None


@dataclass
class CollectionsReport(JsonResult):
    store: str  # "server", "local", "edge"
    location: str
    active: str
    collections: list[CollectionRow] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> collection
    aliases_supported: bool = True


@dataclass
class IndexResult(JsonResult):
    collection: str
    created: list[str]
    log_id: int | None  # None when nothing was missing: nothing changed, no audit entry


@dataclass
class AliasResult(JsonResult):
    alias: str
    collection: str
    previous: str | None
    log_id: int


def report(store: VectorStore) -> CollectionsReport:
    """Every collection of `store`'s engine, the active one first."""
    try:
        aliases = store.aliases()
        aliases_supported = True
    except Unsupported:
        aliases, aliases_supported = {}, False
    names = store.collection_names()
    if store.collection not in names:
        names.insert(0, store.collection)
    rows = [_row(store, name, aliases) for name in names]
    rows.sort(key=lambda r: (not r.active, r.name))
    return CollectionsReport(
        store=store.kind,
        location=store.location,
        active=store.collection,
        collections=rows,
        aliases=aliases,
        aliases_supported=aliases_supported,
    )


def _row(store: VectorStore, name: str, aliases: dict[str, str]) -> CollectionRow:
    active = name == store.collection
    try:
        if active:
            summary = store.describe()
        else:
            other = store.open_collection(name)
            try:
                summary = other.describe()
            finally:
                other.close()
    except VectorctlError as exc:
        summary = CollectionSummary(name, status="grey", error=str(exc))
    except Exception as exc:  # an engine's own error about one collection: shown in its row
        summary = CollectionSummary(name, status="grey", error=f"{type(exc).__name__}: {exc}")
    supported = store.kind != "local"
    indexes = (
        index_rows(summary.indexes, prefix_match=_prefix_match(store), specs=wanted_indexes(store))
        if supported
        else []
    )
    return CollectionRow(
        name=name,
        active=active,
        exists=summary.exists,
        points=summary.points,
        vector_size=summary.vector_size,
        distance=summary.distance,
        status=summary.status,
        optimizer=summary.optimizer,
        segments=summary.segments,
        indexed_vectors=summary.indexed_vectors,
        disk_bytes=summary.disk_bytes,
        pending_operations=summary.pending_operations,
        aliases=sorted(alias for alias, target in aliases.items() if target == name),
        indexes=indexes,
        missing_indexes=[r.field for r in indexes if r.missing] if summary.exists else [],
        indexes_supported=supported,
        error=summary.error,
    )


def index_rows(
    present: tuple[PayloadIndex, ...],
    *,
    prefix_match: bool,
    specs: tuple[IndexSpec, ...] = INDEXES,
) -> list[IndexRow]:
    """vectorctl's indexes (`specs`, present or missing) first, then the collection's others."""
    by_field = {index.field: index for index in present}
    wanted = {
        spec.field
        for spec in indexes_to_create(
            {i.field: _Params(i.prefix) for i in present}, prefix_match=prefix_match, specs=specs
        )
    }
    rows = []
    for spec in specs:
        index = by_field.get(spec.field)
        rows.append(
            IndexRow(
                field=spec.field,
                kind=index.kind if index else None,
                prefix=index.prefix if index else False,
                points=index.points if index else None,
                needed_for=NEEDED_FOR.get(spec.field),
                missing=spec.field in wanted,
            )
        )
    ours = {spec.field for spec in specs}
    for index in present:
        if index.field not in ours:
            rows.append(IndexRow(index.field, index.kind, index.prefix, index.points, None, False))
    return rows


@dataclass(frozen=True)
class _Params:
    """What `indexes_to_create` reads of an engine's index parameters."""

    prefix: bool


def _prefix_match(store: VectorStore) -> bool:
    return bool(getattr(store, "prefix_match", True))


def wanted_indexes(store: VectorStore) -> tuple[IndexSpec, ...]:
    """The payload indexes vectorctl keeps on this engine (Edge: all but `path`)."""
    return store.indexes if isinstance(store, QdrantEngineStore) else INDEXES


def missing_specs(store: VectorStore) -> list[IndexSpec]:
    """vectorctl's indexes the active collection lacks, as they would be created."""
    if store.kind == "local":
        raise Unsupported(
            "qdrant-client local mode has no payload indexes: filters and facets scan there"
        )
    summary = store.describe()
    if not summary.exists:
        raise ValidationError(f"collection {store.collection!r} does not exist")
    existing = {i.field: _Params(i.prefix) for i in summary.indexes}
    return indexes_to_create(
        existing, prefix_match=_prefix_match(store), specs=wanted_indexes(store)
    )


def create_missing_indexes(
    env: protocol.Environment,
    *,
    expect: list[str] | None,
    reason: str | None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> IndexResult:
    """Create the payload indexes vectorctl needs and the collection lacks, one announced
    step each; `expect` is the list of fields the operator confirmed."""
    store = env.vectors()
    specs = missing_specs(store)
    fields = [spec.field for spec in specs]
    if expect is not None and sorted(expect) != sorted(fields):
        raise SelectionChanged(
            f"the missing indexes are {', '.join(fields) or 'none'} now, not the confirmed "
            f"{', '.join(expect) or 'none'}; nothing was created"
        )
    if not specs:
        return IndexResult(store.collection, [], None)
    plan = protocol.Plan(
        deletion_type=PAYLOAD_INDEX,
        target=f"{store.collection}: {', '.join(fields)}",
        selector=None,
        expected=len(specs),
        metadata={"indexes": [_spec_dict(s) for s in specs]},
    )
    with protocol.AuditedRun(
        env, plan, reason=reason, backup=False, progress=progress, cancel=cancel, phase="indexing"
    ) as run:
        for spec in specs:
            run.apply(
                "index",
                [],
                partial(store.create_payload_index, spec.field, spec.kind, prefix=spec.prefix),
                count=1,
                **_spec_dict(spec),
            )
        outcome = run.complete({"created": fields})
    return IndexResult(store.collection, fields, outcome.log_id)


def _spec_dict(spec: IndexSpec) -> dict[str, Any]:
    return {"field": spec.field, "kind": spec.kind, "prefix": spec.prefix}


def switch_alias(
    env: protocol.Environment,
    alias: str,
    collection: str,
    *,
    expect_from: str | None,
    allow_size_change: bool,
    reason: str | None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> AliasResult:
    """Point `alias` at `collection` in one atomic step: the blue/green way to put a
    collection rebuilt with a new model in service. `expect_from` is the collection the
    operator saw the alias on (`""`: saw no such alias)."""
    store = env.vectors()
    check = alias_preview(store, alias, collection)
    if expect_from is not None and (check.previous or "") != expect_from:
        raise SelectionChanged(
            f"alias {alias!r} points at {check.previous or 'nothing'} now, not "
            f"{expect_from or 'nothing'} as confirmed; nothing was switched"
        )
    if check.size_changes and not allow_size_change:
        raise ValidationError(
            f"{collection!r} holds vectors of size {check.new_size}, {check.previous!r} of size "
            f"{check.old_size}: whatever queries {alias!r} must change its model at the same "
            "moment. Switch anyway with --allow-size-change"
        )
    plan = protocol.Plan(
        deletion_type=ALIAS_SWITCH,
        target=f"alias {alias}: {check.previous or '(none)'} -> {collection}",
        selector=None,
        expected=1,
        metadata={"alias": alias, "from": check.previous, "to": collection},
    )
    with protocol.AuditedRun(
        env, plan, reason=reason, backup=False, progress=progress, cancel=cancel, phase="switching"
    ) as run:
        run.apply(
            "alias",
            [],
            partial(store.switch_alias, alias, collection),
            alias=alias,
            to=collection,
            count=1,
        )
        outcome = run.complete({"from": check.previous, "to": collection})
    return AliasResult(alias, collection, check.previous, outcome.log_id)


@dataclass
class AliasPreview(JsonResult):
    alias: str
    collection: str
    previous: str | None
    old_points: int | None
    new_points: int | None
    old_size: int | None
    new_size: int | None

    @property
    def size_changes(self) -> bool:
        return None not in (self.old_size, self.new_size) and self.old_size != self.new_size


def alias_preview(store: VectorStore, alias: str, collection: str) -> AliasPreview:
    """What switching `alias` to `collection` changes (nothing is changed)."""
    if not alias.strip():
        raise ValidationError("the alias name is empty")
    aliases = store.aliases()
    names = store.collection_names()
    if collection not in names:
        hint = f" (it is an alias of {aliases[collection]!r})" if collection in aliases else ""
        raise ValidationError(f"there is no collection {collection!r}{hint}")
    if alias in names:
        raise ValidationError(f"{alias!r} is a collection, not an alias: it cannot be switched")
    previous = aliases.get(alias)
    if previous == collection:
        raise ValidationError(f"alias {alias!r} already points at {collection!r}")
    new = _summary(store, collection)
    old = _summary(store, previous) if previous else None
    return AliasPreview(
        alias=alias,
        collection=collection,
        previous=previous,
        old_points=old.points if old else None,
        new_points=new.points,
        old_size=old.vector_size if old else None,
        new_size=new.vector_size,
    )


def _summary(store: VectorStore, name: str) -> CollectionSummary:
    if name == store.collection:
        return store.describe()
    other = store.open_collection(name)
    try:
        return other.describe()
    finally:
        other.close()
