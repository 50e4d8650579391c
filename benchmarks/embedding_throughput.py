"""Images per second of the whole embedding pipeline next to the model alone, in one run.

The pipeline figure is what `vectorctl worker` achieves: claim jobs in the database, decode
JPEG files (in threads, overlapping the model), embed, upsert into the store, write evidence.
The raw figure is `model.encode_image` on already-decoded, already-preprocessed tensors of the
same model and batch size: the ceiling the pipeline approaches when decoding and I/O are
fully hidden behind the model.

    .venv/bin/python -m benchmarks.embedding_throughput                 # ViT-B-32, random weights
    .venv/bin/python -m benchmarks.embedding_throughput --tiny          # the test suite's model
    .venv/bin/python -m benchmarks.embedding_throughput --images 512 --batch-size 64
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from vectorctl.core.db.engine import create_db_engine, session_factory
from vectorctl.core.db.migrate import upgrade
from vectorctl.core.embedding import EmbedderConfig, load_embedder
from vectorctl.core.ingest import scan
from vectorctl.core.settings import load_settings, with_overrides
from vectorctl.core.worker import default_decode_threads, run_worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--pretrained", default="random")
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny architecture")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--size", type=int, default=640, help="width of the JPEGs, px")
    parser.add_argument("--store", choices=["edge", "local"], default="edge")
    parser.add_argument("--decode-threads", type=int, default=0, help="0: the worker's default")
    parser.add_argument("--torch-threads", type=int, default=0, help="0: torch's default")
    args = parser.parse_args()

    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    with tempfile.TemporaryDirectory(prefix="vectorctl-bench-") as tmp:
        work = Path(tmp)
        model = args.model
        if args.tiny:
            from tests.tiny_clip import register_tiny_model

            model = register_tiny_model(work)
        embedder = load_embedder(EmbedderConfig(model, args.pretrained, "auto"))
        paths = _write_jpegs(work / "photos", args.images, args.size)

        settings = with_overrides(
            load_settings(
                {
                    "database_url": f"sqlite:///{work / 'bench.sqlite3'}",
                    f"qdrant_{'edge' if args.store == 'edge' else 'path'}": str(work / "store"),
                    "data_dir": str(work / "data"),
                },
                env={},
                use_profile=False,
            ),
            vector_size=embedder.dim,
        )
        engine = create_db_engine(settings.database_url)
        upgrade(engine)
        db = session_factory(engine)
        scan(db, work / "photos")
        from vectorctl.core.store import open_store

        store = open_store(settings)
        batches = _raw_batches(embedder, paths, args.batch_size)
        raw_before = _time_raw(embedder, batches)
        started = time.perf_counter()
        result = run_worker(
            settings,
            db=db,
            store=store,
            embedder=embedder,
            batch_size=args.batch_size,
            decode_threads=args.decode_threads or None,
        )
        pipeline_seconds = time.perf_counter() - started
        raw_after = _time_raw(embedder, batches)
        store.close()
        engine.dispose()

    print(
        f"model {embedder.model_version} on {embedder.device} "
        f"({torch.get_num_threads()} torch threads, "
        f"{args.decode_threads or default_decode_threads()} decode threads), "
        f"batch size {args.batch_size}, "
        f"{args.images} JPEGs of {args.size}px width, {args.store} store"
    )
    print(
        f"pipeline (claim, decode, embed, upsert, evidence): "
        f"{result.embedded / pipeline_seconds:8.1f} "
        f"images/s  ({result.embedded} in {pipeline_seconds:.2f} s, {result.failed} failed)"
    )
    for label, seconds in (("before", raw_before), ("after", raw_after)):
        print(
            f"raw model.encode_image, {label} the pipeline: {len(paths) / seconds:8.1f} "
            f"images/s  ({len(paths)} in {seconds:.2f} s)"
        )


def _raw_batches(embedder: Any, paths: list[Path], batch_size: int) -> list[Any]:
    """The same images as model-ready tensors, decoded and normalised beforehand."""
    from PIL import Image

    arrays = []
    for path in paths:
        with Image.open(path) as image:
            arrays.append(embedder.prepare(image))
    return [
        embedder.to_batch(arrays[start : start + batch_size])
        for start in range(0, len(arrays), batch_size)
    ]


def _time_raw(embedder: Any, batches: list[Any]) -> float:
    import torch

    torch.set_flush_denormal(True)  # as the embedder does
    started = time.perf_counter()
    with torch.inference_mode():
        for batch in batches:
            embedder.model.encode_image(batch)
    return time.perf_counter() - started


def _write_jpegs(root: Path, count: int, width: int) -> list[Path]:
    """Photo-sized JPEGs with some structure, so decoding costs what it costs on real files."""
    from PIL import Image, ImageDraw

    root.mkdir(parents=True)
    paths = []
    height = width * 3 // 4
    for i in range(count):
        image = Image.new("RGB", (width, height), ((i * 37) % 256, (i * 91) % 256, 120))
        draw = ImageDraw.Draw(image)
        for k in range(12):
            x, y = (i * 13 + k * 47) % width, (i * 7 + k * 29) % height
            draw.ellipse(
                (x, y, x + width // 5, y + height // 5), fill=(k * 20, 255 - k * 20, i % 256)
            )
        path = root / f"img{i:05}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


if __name__ == "__main__":
    main()
