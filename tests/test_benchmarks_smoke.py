"""The scale benchmark's code runs, and its reference approaches agree with ours on the same
data (a tiny deployment; no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import measure, scale
from benchmarks import scale_data as data
from benchmarks.scale_reference import (
    floor_delete,
    ids_scroll,
    reference_delete,
    reference_orphans,
    reference_stats,
    stats_equal,
)
from benchmarks.scale_report import Row, print_report
from tests.builders import deployment_settings
from vectorctl.core.service import VectorService
from vectorctl.core.store import open_store
from vectorctl.core.store.base import Selector
from vectorctl.core.targets import Target, TargetKind

N = 2_000


@pytest.fixture
def deployment(db_url: str, store_engine: str, tmp_path: Path) -> tuple[data.Deployment, str]:
    dep = data.Deployment(store_engine, N, tmp_path / "deployment", 0.0, built_now=True)
    dep.root.mkdir()
    data.fill_database(db_url, N)
    store = open_store(dep.settings(tmp_path / "data", database_url=db_url))
    try:
        data.fill_store(store, N)
    finally:
        store.close()
    return dep, db_url


def test_the_synthetic_layout_is_what_the_benchmark_says() -> None:
    assert data.TEN_PERCENT_DIR == "/library/top-0"
    assert sum(data.path_of(i).startswith("/library/top-0/") for i in range(1, N + 1)) == N // 10
    assert sum(map(data.is_orphan, range(1, N + 1))) == N // 100
    assert len({data.leaf_of(i) for i in range(1, N + 1)}) == data.LEAVES


def test_the_synthetic_data_is_the_same_in_another_process() -> None:
    # Cached deployments are reused across runs: another interpreter (another hash seed)
    # must produce the same points, bit for bit.
    script = (
        "import json; from benchmarks import scale_data as d; "
        "print(json.dumps([[r.id, r.payload, r.vector] for r in d.records(1, 4)]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    here = [[r.id, r.payload, r.vector] for r in data.records(1, 4)]
    assert json.loads(other.stdout) == json.loads(json.dumps(here))


def test_ours_equals_the_reference_approaches(
    deployment: tuple[data.Deployment, str], tmp_path: Path
) -> None:
    dep, db_url = deployment
    service = VectorService(dep.settings(tmp_path / "data", database_url=db_url))
    try:
        store = service.store
        reference = reference_stats(store, service.db)
        assert stats_equal(service.directory_stats(fresh=True), reference)
        assert stats_equal(service.directory_stats(), reference)  # the maintained copy
        assert sum(reference[1].values()) == N

        found = service.find_orphans()
        orphans = reference_orphans(store, service.db)
        assert found.count == len(orphans) == N // 100
        assert sorted(o.id for o in found.orphans) == sorted(orphans)  # type: ignore[type-var]
        assert all(o.path for o in found.orphans)
        assert ids_scroll(store) == N

        directory = data.TEN_PERCENT_DIR
        saved = scale.snapshot_points(store, directory)
        ours = service.delete(Target(TargetKind.DIRECTORY, directory), backup=False)
        scale.restore_points(store, saved)
        assert store.count() == N
        assert ours.deleted_count == reference_delete(store, directory) == N // 10
        scale.restore_points(store, saved)
        floor_delete(store, directory)
        assert store.count() == N - N // 10
        scale.restore_points(store, saved)
        assert store.count() == N
    finally:
        service.close()


def test_the_benchmark_functions_run_and_print(
    deployment: tuple[data.Deployment, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dep, db_url = deployment
    settings = dep.settings(tmp_path / "bench", database_url=db_url)
    rows = scale.bench_stats(settings, N, "tiny", 1)
    assert rows[0].note.startswith("exact")
    rows += scale.bench_delete(dep, settings, N, "tiny", 1)  # raises if a delete disagrees
    assert not (dep.root / "dirty").exists()
    rows += scale.bench_orphans(settings, N, "tiny", 1)
    assert all(r.ours is not None for r in rows)
    bigger = [Row(10 * N, r.where, r.op, r.ours, r.ref, r.floor) for r in rows]
    print_report(rows + bigger, ["tiny"], ["skipped"], ["skipped"], 1.0)
    out = capsys.readouterr().out
    assert "stats warm (second open)" in out and "Growth from 2,000 to 20,000" in out


def test_absolute_targets_compare_our_figure_with_the_limit() -> None:
    def met(ours: float, target: str, unit: str = "s") -> str:
        return Row(1, "w", "op", ours, target=target, unit=unit).met

    assert (met(1.4, "abs<=1.5s"), met(1.6, "abs<=1.5s")) == ("MET", "MISSED")
    assert met(900 * 2**20, "abs<=1024MiB", "MiB") == "MET"
    assert met(1.0, "ref>=10x") == "?"  # no reference measured


def test_a_process_is_measured_by_its_own_peak_memory_not_the_benchmarks() -> None:
    ballast = bytearray(300 * 2**20)  # the benchmark's memory must not be every command's
    small = measure.run_process([sys.executable, "-c", "print('small')"])
    large = measure.run_process([sys.executable, "-c", "x = bytearray(200 * 2**20); print(1)"])
    assert small.stdout == "small\n" and small.peak_rss < 100 * 2**20 < len(ballast)
    assert large.peak_rss > 200 * 2**20
    assert 0 < small.seconds < large.seconds + 5


def test_a_lived_deployment_is_built_by_vectorctl_commands(tmp_path: Path) -> None:
    lived = data.lived_deployment(N, cache=tmp_path, verbose=False)
    assert list(lived.steps) == [
        "store backfill",
        "delete 10% with backup",
        "restore it",
        "store optimize",
    ]
    service = VectorService(
        deployment_settings(
            tmp_path,
            database_url=lived.sqlite_url,
            qdrant_edge=str(lived.store_dir),
            vector_size=data.VECTOR_SIZE,
        )
    )
    try:
        assert service.store.count() == N
        assert service.store.count(Selector(without_dirs=True)) == 0  # backfilled
        assert service.info().advice == []  # optimised: nothing due
    finally:
        service.close()
    again = data.lived_deployment(N, cache=tmp_path, verbose=False)
    assert not again.built_now and again.steps == lived.steps
