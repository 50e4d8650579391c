"""`vectorctl health`: every check on real databases and stores, and the exit codes a
monitoring system reads (0 healthy, 1 degraded, 2 down)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests import drift_library
from tests.builders import add_session, deployment_settings, index_assets
from tests.commands import Run, doc
from vectorctl.core import health
from vectorctl.core.db.models import TrainingJob, VectorDeletionLog
from vectorctl.core.health import Check, HealthReport, Rules
from vectorctl.core.service import VectorService
from vectorctl.core.settings import RESET_PHRASE, Settings, with_overrides

LIBRARY = [f"/lib/{i:02d}.jpg" for i in range(30)]
QUIET = ("--snapshot-max-hours", "0")  # a fresh deployment has no snapshot yet


def checks(result: Result) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in doc(result)["checks"]}


@pytest.fixture
def library(service: VectorService) -> dict[str, int]:
    ids = index_assets(service, LIBRARY)
    service.close()
    return ids


def test_a_fresh_deployment_is_healthy_with_every_check_said(
    run: Run, library: dict[str, int]
) -> None:
    result = run("health", *QUIET, "--json")

    assert result.exit_code == 0, result.output
    report = doc(result)
    assert (report["status"], report["exit_code"]) == ("healthy", 0)
    found = checks(result)
    assert set(found) == {
        "database",
        "store",
        "queue",
        "job leases",
        "failed jobs",
        "audit",
        "backups",
        "collection",
        "snapshots",
        "search latency",
        "drift",
    }
    assert found["database"]["figures"]["latency_ms"] >= 0
    assert found["collection"]["figures"]["points"] == len(LIBRARY)
    latency = found["search latency"]["figures"]
    assert latency["searches"] == 20 and latency["p50_ms"] <= latency["p95_ms"]
    assert latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    assert found["snapshots"]["status"] == "skipped"
    assert (found["drift"]["status"], found["drift"]["figures"]["rate"]) == ("ok", 0.0)


def test_failed_jobs_stale_leases_and_interrupted_operations_degrade_it(
    run: Run, service: VectorService
) -> None:
    ids = index_assets(service, LIBRARY[:3])
    session = add_session(service, "/lib", list(ids.values()))
    now = datetime.now(UTC)
    with service.db.begin() as db:
        failed, stale, old = db.query(TrainingJob).filter_by(session_id=session).all()
        failed.status, failed.completed_at = "FAILED", now - timedelta(hours=1)
        stale.status, stale.claimed_by = "RUNNING", "gone-host:1:worker"
        stale.lease_expires_at = now - timedelta(minutes=5)
        old.status, old.completed_at = "FAILED", now - timedelta(days=3)  # outside the window
        db.add(
            VectorDeletionLog(
                deletion_type="DIRECTORY",
                deletion_target="/lib",
                vector_count=1,
                status="interrupted",
                created_at=now - timedelta(hours=2),
            )
        )
    service.close()

    result = run("health", *QUIET, "--json")

    assert result.exit_code == 1, result.output
    found = checks(result)
    assert found["failed jobs"]["status"] == "degraded"
    assert found["failed jobs"]["figures"]["failed"] == 1
    assert found["job leases"]["status"] == "degraded"
    assert found["job leases"]["figures"]["stale"] == 1
    assert found["audit"]["status"] == "degraded"
    assert found["audit"]["figures"]["interrupted"] == 1
    assert found["collection"]["status"] == "ok"
    text = run("health", *QUIET)
    assert text.exit_code == 1
    assert "degraded" in text.stdout


def test_search_latency_over_the_target_degrades_it(run: Run, library: dict[str, int]) -> None:
    result = run("health", *QUIET, "--p95-ms", "0.000001", "--searches", "5", "--json")

    assert result.exit_code == 1, result.output
    latency = checks(result)["search latency"]
    assert latency["status"] == "degraded"
    assert "p95 over 1e-06 ms" in latency["summary"]
    assert latency["figures"]["searches"] == 5
    # Neither embedded store has indexed these few vectors: the reason is said.
    assert "30 vectors are in no vector index" in latency["summary"]
    assert latency["figures"]["unindexed_vectors"] == len(LIBRARY)


def test_no_recent_snapshot_and_archives_past_the_retention_rule_degrade_it(
    run: Run, library: dict[str, int], settings: Settings
) -> None:
    # Every vector of the collection: the reset's phrase, not --yes.
    assert run("delete", "dir", "/lib", "--confirm", RESET_PHRASE).exit_code == 0

    result = run("health", "--retention-days", "0", "--json")

    assert result.exit_code == 1
    found = checks(result)
    assert found["snapshots"]["status"] == "degraded"
    assert "no snapshot of 'image_assets' yet" in found["snapshots"]["summary"]
    assert found["backups"]["status"] == "degraded"
    assert found["backups"]["figures"]["older_than_rule"] == 1
    assert checks(run("health", "--json"))["backups"]["status"] == "ok"  # 30 days by default


def test_a_fresh_snapshot_satisfies_the_daily_rule(run: Run, library: dict[str, int]) -> None:
    assert run("snapshots", "create").exit_code == 0

    snapshots = checks(run("health", "--json"))["snapshots"]

    assert snapshots["status"] == "ok"
    assert snapshots["figures"]["snapshots"] == 1 and snapshots["figures"]["newest_hours"] < 1


def test_an_unreachable_database_is_down(
    library: dict[str, int], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from tests.commands import global_options
    from vectorctl.tui.cli import cli

    monkeypatch.setenv("VECTORCTL_PROFILE", "")
    gone = with_overrides(settings, database_url="postgresql+psycopg://nobody@127.0.0.1:9/none")
    options = global_options(gone)

    result = CliRunner().invoke(cli, [*options, "health", *QUIET, "--json"])

    assert result.exit_code == 2, result.output
    report = doc(result)
    assert report["status"] == "down"
    found = {c["name"]: c for c in report["checks"]}
    assert found["database"]["status"] == "down"
    assert found["store"]["status"] == "ok" and found["collection"]["status"] == "ok"
    assert "queue" not in found  # database checks are not attempted


def test_a_missing_collection_is_down(db_url: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tests.commands import global_options
    from tests.conftest import upgraded
    from vectorctl.tui.cli import cli

    settings = deployment_settings(
        tmp_path, "local", database_url=upgraded(db_url), collection="nowhere"
    )

    result = CliRunner().invoke(
        cli, [*global_options(settings), "--collection", "nowhere", "health", "--json"]
    )

    assert result.exit_code == 2, result.output
    collection = {c["name"]: c for c in doc(result)["checks"]}["collection"]
    assert collection["status"] == "down"
    assert "'nowhere' does not exist" in collection["summary"]


def test_the_first_failing_check_is_the_reason_shown() -> None:
    report = HealthReport(
        "degraded",
        "image_assets",
        "2026-01-01T00:00:00+00:00",
        0.1,
        [Check("database", "ok", "fine"), Check("failed jobs", "degraded", "2 jobs failed")],
    )
    assert report.reason == "failed jobs: 2 jobs failed"
    assert report.exit_code == 1


def test_the_latency_check_stops_searching_at_its_time_budget(service: VectorService) -> None:
    from vectorctl.core.search import measure_latency

    index_assets(service, LIBRARY)

    unbounded = measure_latency(service.store, searches=20, budget_seconds=60)
    bounded = measure_latency(service.store, searches=20, budget_seconds=0)

    assert unbounded is not None and (unbounded.searches, unbounded.budget_spent) == (20, False)
    assert bounded is not None and (bounded.searches, bounded.budget_spent) == (1, True)


def test_a_large_collection_without_a_vector_index_is_not_searched_but_said(
    service: VectorService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both embedded engines index none of these 30 vectors; from the threshold on, one
    # search would read every vector, so none is made (1,000,000 on Edge: 4.7 s a search).
    index_assets(service, LIBRARY)
    monkeypatch.setattr(health, "BRUTE_FORCE_UNTIMED", len(LIBRARY))

    latency = next(c for c in service.health(Rules()).checks if c.name == "search latency")

    assert latency.status == "degraded"
    assert latency.figures["searches"] == 0
    assert latency.figures["unindexed_vectors"] == len(LIBRARY)
    assert "not timed: 30 vectors are in no vector index" in latency.summary


def test_payload_drift_found_by_the_sample_degrades_it(service: VectorService) -> None:
    drift_library.build(service)
    sampled = service.drift_sample(1_000, seed=1).drift

    report = service.health(Rules(snapshot_hours=0))
    drift = next(c for c in report.checks if c.name == "drift")

    # The planted library drifts in far more than 1% of its rows (every row is sampled):
    # the check says so with the sample's own rate.
    assert sampled.rate > 0.01
    assert drift.status == "degraded"
    assert drift.figures["rate"] == pytest.approx(sampled.rate)
    assert report.status == "degraded"


def test_an_optimize_due_on_the_embedded_store_degrades_it(
    service: VectorService, store_engine: str
) -> None:
    ids = index_assets(service, [f"/lib/{i:04d}.jpg" for i in range(1_200)])
    healthy = next(
        c for c in service.health(Rules(snapshot_hours=0)).checks if c.name == "collection"
    )
    assert (healthy.status, healthy.figures["optimize_due"]) == ("ok", [])

    service.store.delete_ids(list(ids.values())[:1_100])
    collection = next(
        c for c in service.health(Rules(snapshot_hours=0)).checks if c.name == "collection"
    )

    if store_engine == "edge":  # Edge keeps the deleted versions until an optimize
        assert collection.status == "degraded"
        assert collection.figures["optimize_due"] == [
            "1,100 points deleted since the last optimize"
        ]
        assert "vectorctl store optimize" in collection.summary
    else:  # local mode has no optimize: nothing is ever due
        assert (collection.status, collection.figures["optimize_due"]) == ("ok", [])
