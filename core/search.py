"""Searching the collection the way the image-search service does: the nearest neighbours
of one point (is a retrained collection sensible?) and the latency of searches with real
vectors (is it fast enough?)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from vectorctl.core.errors import NotFoundError, ValidationError
from vectorctl.core.results import JsonResult
from vectorctl.core.store.base import F_ASSET_ID, F_PATH, PointId, VectorStore
from vectorctl.core.store.common import normalize_id

MAX_LIMIT = 1000


@dataclass
class Neighbour(JsonResult):
    id: PointId
    score: float
    path: str | None
    asset_id: str | None


@dataclass
class SimilarResult(JsonResult):
    collection: str
    point_id: PointId
    path: str | None
    neighbours: list[Neighbour] = field(default_factory=list)


def parse_point_id(text: str) -> PointId:
    """A point id as typed: ASCII digits or a UUID."""
    value = text.strip()
    if value.isascii() and value.isdigit():
        return int(value)
    try:
        return normalize_id(value)
    except ValueError:
        raise ValidationError(
            f"{text!r} is not a point id (an unsigned integer or a UUID)"
        ) from None


def similar(store: VectorStore, point_id: PointId, *, limit: int = 10) -> SimilarResult:
    """The `limit` points nearest to `point_id` (itself left out), best first."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}")
    point_id = normalize_id(point_id)
    found = store.retrieve([point_id], with_vectors=True)
    if not found or found[0].vector is None:
        raise NotFoundError(f"collection {store.collection!r} has no point {point_id}")
    point = found[0]
    assert point.vector is not None
    # One more than asked: the point itself is (almost always) its own nearest neighbour.
    hits = store.search(point.vector, limit=limit + 1, fields=[F_ASSET_ID, F_PATH])
    neighbours = [
        Neighbour(
            id=hit.id,
            score=hit.score,
            path=_text(hit.payload.get(F_PATH)),
            asset_id=_text(hit.payload.get(F_ASSET_ID)),
        )
        for hit in hits
        if hit.id != point_id
    ]
    return SimilarResult(
        collection=store.collection,
        point_id=point_id,
        path=_text(point.payload.get(F_PATH)),
        neighbours=neighbours[:limit],
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass
class Latency(JsonResult):
    searches: int  # timed searches run
    limit: int  # neighbours asked for per search
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    budget_spent: bool  # stopped by the time budget before `searches` searches
    cold_first: bool = False  # the first search, on cold caches, is among those counted


def measure_latency(
    store: VectorStore, *, searches: int = 20, limit: int = 10, budget_seconds: float = 1.0
) -> Latency | None:
    """Time up to `searches` searches for real vectors of the collection within about
    `budget_seconds` in all; None for an empty collection.

    The first search warms caches (a store just opened reads its files) and is not counted,
    unless it took half the budget or more (a large collection searched without a vector
    index): then it counts (`cold_first`), and the budget allows few more. A search is not
    started when the previous one says it would end past the budget, so the whole stays near
    the budget, with at least one search counted."""
    # One page: the first points by id. Real vectors, as the service's queries are.
    page = next(iter(store.scroll(None, fields=[], with_vectors=True, batch_size=searches + 1)), [])
    queries = [r.vector for r in page if r.vector is not None]
    if not queries:
        return None
    started = time.perf_counter()
    first = _timed_search(store, queries[0], limit)
    cold_first = first >= budget_seconds * 1000 / 2
    times = [first] if cold_first else []
    for vector in (queries[1:] or queries) * searches:
        if len(times) >= searches:
            break
        elapsed = time.perf_counter() - started
        if times and elapsed + times[-1] / 1000 > budget_seconds:
            break
        times.append(_timed_search(store, vector, limit))
    p50, p95, p99 = np.percentile(times, [50, 95, 99])
    return Latency(
        searches=len(times),
        limit=limit,
        p50_ms=round(float(p50), 2),
        p95_ms=round(float(p95), 2),
        p99_ms=round(float(p99), 2),
        max_ms=round(max(times), 2),
        budget_spent=len(times) < searches,
        cold_first=cold_first,
    )


def _timed_search(store: VectorStore, vector: list[float], limit: int) -> float:
    """Milliseconds one search took."""
    begin = time.perf_counter()
    store.search(vector, limit=limit, fields=[])
    return (time.perf_counter() - begin) * 1000
