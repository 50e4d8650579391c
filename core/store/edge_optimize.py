"""Optimise one Qdrant Edge shard: the child process of `EdgeStore.optimize`.

    python -m vectorctl.core.store.edge_optimize SHARD_DIRECTORY

Every engine call holds the interpreter lock, and `EdgeShard.optimize` runs for as long as
the rebuild takes (33 s for 1,000,000 points here) without a way to stop it. Run here, it
neither freezes the console nor outlasts a cancel: the parent, which keeps the directory
lock while the shard is closed, kills this process. It prints one JSON object a line:
`{"phase", "done", "total"}` as it goes, then `{"optimized": true|false}`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from vectorctl.core.store.base import F_PATH
from vectorctl.core.store.edge_store import (
    EDGE_INDEXES,
    index_schema,
    outdated_indexes,
    shard_layout_config,
)


def say(**event: Any) -> None:
    print(json.dumps(event), flush=True)


def optimize(path: Path) -> bool:
    """Load the shard in vectorctl's layout, rebuild the indexes of an older one, and let the
    engine rebuild its segments into that layout. True when anything was rebuilt."""
    say(phase="opening", done=0, total=1)
    config = shard_layout_config(path)
    shard = qe.EdgeShard.load(str(path), config) if config else qe.EdgeShard.load(str(path))
    try:
        say(phase="opening", done=1, total=1)
        stale = outdated_indexes(shard.info().payload_schema)
        specs = {spec.field: spec for spec in EDGE_INDEXES}
        for done, field in enumerate(stale, 1):
            if field == F_PATH:
                shard.update(qe.UpdateOperation.delete_field_index(field))
            else:
                schema = index_schema(specs[field])
                shard.update(qe.UpdateOperation.create_field_index(field, schema))
            say(phase="indexes", done=done, total=len(stale))
        say(phase="optimizing", done=0, total=None)
        rebuilt = shard.optimize()
    finally:
        shard.close()
    return rebuilt or bool(stale)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    say(optimized=optimize(Path(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
