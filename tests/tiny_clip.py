"""A tiny OpenCLIP architecture and real image files, for the embedding and job tests.

The model goes through the same open_clip code path as ViT-B-32 in production; it is only
small (a 2-layer ViT of width 64 on 32 px images, 32-dimensional vectors), so the tests run
in seconds on a CPU.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vectorctl.core.store.base import VectorStore

TINY_MODEL = "vectorctl-tiny-test"
TINY_DIM = 32
TINY_CONFIG = {
    "embed_dim": TINY_DIM,
    "vision_cfg": {
        "image_size": 32,
        "layers": 2,
        "width": 64,
        "patch_size": 8,
        "head_width": 32,
        "mlp_ratio": 2.0,
    },
    "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1},
}
# A deployment on the tiny model: `deployment_settings(base, **TINY_CLIP)`.
TINY_CLIP = {
    "clip_model": TINY_MODEL,
    "clip_pretrained": "random",
    "device": "cpu",
    "vector_size": TINY_DIM,
}

_registered: list[Path] = []


def register_tiny_model(directory: Path) -> str:
    """Make TINY_MODEL known to open_clip (once per process); returns its name."""
    import open_clip

    if not _registered:
        path = directory / f"{TINY_MODEL}.json"
        path.write_text(json.dumps(TINY_CONFIG))
        open_clip.add_model_config(path)
        _registered.append(path)
    return TINY_MODEL


def make_images(root: Path, relative_paths: Sequence[str], seed: int = 0) -> list[Path]:
    """Write small real images (JPEG or PNG by suffix) with varied sizes and colours."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    written = []
    for rel in relative_paths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        size = (rng.randint(24, 64), rng.randint(24, 64))
        image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        draw.rectangle((2, 2, size[0] // 2, size[1] // 2), fill=(rng.randrange(256), 0, 0))
        image.save(path)
        written.append(path)
    return written


def write_corrupt(path: Path) -> Path:
    """A file named like an image whose bytes are not one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    return path


class LockedStore(VectorStore):
    """A real store shared by worker threads of one test: embedded engines are opened once
    per process and their instances are not thread-safe, so calls are serialised. It also
    keeps the vectors exactly as sent (`sent`): engines re-normalise cosine vectors, which
    can change the last bit of what they hand back."""

    def __init__(self, inner: VectorStore):
        self._inner = inner
        self._lock = threading.Lock()
        self.sent: dict[Any, list[float]] = {}
        self.kind, self.location, self.collection = inner.kind, inner.location, inner.collection

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return getattr(self._inner, name)(*args, **kwargs)

    def collection_info(self, *, count=True):  # type: ignore[no-untyped-def]
        return self._call("collection_info", count=count)

    def ensure_collection(self, vector_size, distance="cosine"):  # type: ignore[no-untyped-def]
        return self._call("ensure_collection", vector_size, distance)

    def count(self, selector=None):  # type: ignore[no-untyped-def]
        return self._call("count", selector)

    def scroll(self, selector=None, **kwargs):  # type: ignore[no-untyped-def]
        with self._lock:
            return iter(list(self._inner.scroll(selector, **kwargs)))

    def retrieve(self, ids, *, with_vectors=False):  # type: ignore[no-untyped-def]
        return self._call("retrieve", ids, with_vectors=with_vectors)

    def upsert(self, records):  # type: ignore[no-untyped-def]
        self.sent.update((r.id, r.vector) for r in records)
        return self._call("upsert", records)

    def set_payload(self, ids, payload):  # type: ignore[no-untyped-def]
        return self._call("set_payload", ids, payload)

    def delete_ids(self, ids):  # type: ignore[no-untyped-def]
        return self._call("delete_ids", ids)

    def delete(self, selector):  # type: ignore[no-untyped-def]
        return self._call("delete", selector)

    def facet(self, key, *, limit=1_000_000):  # type: ignore[no-untyped-def]
        return self._call("facet", key, limit=limit)

    def recreate_collection(self):  # type: ignore[no-untyped-def]
        return self._call("recreate_collection")

    def create_snapshot(self):  # type: ignore[no-untyped-def]
        return self._call("create_snapshot")

    def close(self):  # type: ignore[no-untyped-def]
        return self._call("close")
