"""Export the collection's points (ids, payloads, optionally vectors) as JSON lines,
streaming: one page of points in memory at a time, whatever the collection's size.

Parquet needs pyarrow, which vectorctl does not depend on: asked for without it, the export
refuses before it starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO

from vectorctl.core.paths import normalize_prefix
from vectorctl.core.progress import (
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    check_cancel,
    report,
)
from vectorctl.core.results import JsonResult
from vectorctl.core.store.base import Selector, VectorStore

# Points per page. With vectors a point is about 16 KB as Python objects at 512 dimensions (a
# list of boxed floats) plus its JSON text: a page of 500 keeps the heap about 30 MB above
# where it was whatever the collection's size (benchmarks.health measures it). Without
# vectors, the payloads only.
PAGE_WITH_VECTORS = 500
PAGE = 10_000


@dataclass
class ExportResult(JsonResult):
    collection: str
    under: str | None
    format: str
    vectors: bool
    points: int


def export_jsonl(
    store: VectorStore,
    out: IO[str],
    *,
    under: str | None = None,
    with_vectors: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ExportResult:
    """Write one JSON object per point: `{"id", "payload"}` and, with vectors, `"vector"`."""
    prefix = normalize_prefix(under) if under is not None else None
    selector = Selector(directory=prefix) if prefix is not None else None
    total = store.count(selector)
    written = 0
    report(progress, ProgressEvent("exporting", 0, total))
    for page in store.scroll(
        selector,
        fields=None,
        with_vectors=with_vectors,
        batch_size=PAGE_WITH_VECTORS if with_vectors else PAGE,
    ):
        check_cancel(cancel, f"export of {store.collection}")
        lines = []
        for record in page:
            point: dict[str, object] = {"id": record.id, "payload": record.payload}
            if with_vectors:
                point["vector"] = record.vector
            lines.append(json.dumps(point, ensure_ascii=False))
        out.write("\n".join(lines) + "\n")
        written += len(page)
        report(progress, ProgressEvent("exporting", written, total))
    return ExportResult(store.collection, prefix, "jsonl", with_vectors, written)
