"""The drift benchmark's synthetic deployment plants exactly the drift it says it does (a
tiny one; no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

from benchmarks import drift as bench
from vectorctl.core.service import VectorService

N = 2_000


def test_the_drift_benchmark_finds_what_it_planted(tmp_path: Path) -> None:
    deployment = bench.deployment(N, cache=tmp_path / "cache", verbose=False)
    service = VectorService(deployment.settings(tmp_path / "data"))
    try:
        report = service.drift_scan()
        assert report.counts == bench.expected_counts(N)
        estimate = service.drift_sample(10 * N)  # every row: the estimate is exact
        assert estimate.drift.found == report.drifted
        plan = service.drift_plan(kinds=["path"])
        assert {c.values["path"] for c in plan.changes["image_assets"]} == {
            bench.moved_path(i) for i in range(1, N + 1) if bench.is_moved(i)
        }
    finally:
        service.close()
