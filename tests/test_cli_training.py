"""scan, worker, retrain and demo from the command line, with the tiny OpenCLIP model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.commands import global_options
from tests.tiny_clip import TINY_DIM, make_images, register_tiny_model
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings


@pytest.fixture
def run(settings: Settings, service: VectorService, tmp_path: Path, monkeypatch):
    from vectorctl.tui.cli import cli

    service.close()
    monkeypatch.setenv("VECTORCTL_PROFILE", "")
    model = register_tiny_model(tmp_path)
    clip = [
        "--clip-model",
        model,
        "--clip-pretrained",
        "random",
        "--device",
        "cpu",
        "--collection",
        "tiny",
        "--vector-size",
        str(TINY_DIM),
    ]

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, [*global_options(settings), *clip, *args])

    return invoke


def body(result: Result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_scan_worker_retrain_round_trip(run, tmp_path: Path) -> None:
    root = tmp_path / "lib"
    make_images(root, ["2024/a.jpg", "2024/b.jpg", "2024/trip/c.jpg", "2023/d.jpg"])

    scanned = body(run("scan", str(root / "2024"), "--json"))
    assert (scanned["registered"], scanned["queued"]) == (3, 3)
    assert body(run("scan", str(root), "--json"))["queued"] == 1  # known files are skipped

    worked = body(run("worker", "--json"))
    assert (worked["embedded"], worked["failed"]) == (4, 0)
    assert "random" in worked["weights"]

    stats = {r["path"]: r for r in body(run("stats", "--json"))}
    assert stats[str(root / "2024")]["vector_count"] == 3

    assert run("retrain", str(root / "2024"), "--json").exit_code == 1  # not confirmed
    retrained = body(run("retrain", str(root / "2024"), "--yes", "--wait", "--json"))
    assert (retrained["deleted_count"], retrained["queued"], retrained["embedded"]) == (3, 3, 3)
    assert retrained["sessions_reset"] == 1
    assert body(run("preview", "dir", str(root / "2024"), "--json"))["count"] == 3


def test_scan_refuses_a_missing_root(run, tmp_path: Path) -> None:
    result = run("scan", str(tmp_path / "nope"), "--json")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_demo_builds_its_own_embedded_deployment(tmp_path: Path, monkeypatch) -> None:
    from vectorctl.tui.cli import cli

    model = register_tiny_model(tmp_path)
    # A configured production database must not receive the demo.
    monkeypatch.setenv("VECTORCTL_DATABASE_URL", "postgresql://ops:x@127.0.0.1:9/prod")
    args = [
        "--clip-model",
        model,
        "--device",
        "cpu",
        "demo",
        "--data-dir",
        str(tmp_path / "d"),
        "--images-per-event",
        "10",
        "--no-open",
        "--json",
    ]
    first = body(CliRunner().invoke(cli, args))
    assert first["created"] and first["embedded"] > 0 and first["weights"].startswith("random")
    assert first["orphan_vectors"] > 0 and first["missing_vectors"] > 0
    again = body(CliRunner().invoke(cli, args))
    assert again["created"] is False
    assert (tmp_path / "d" / "vectorctl.sqlite3").exists()


def _stop_after_the_first_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM to this process once the first batch is recorded, as a service manager
    sends it: the command's handler asks the worker to stop after its batch."""
    import os
    import signal

    from vectorctl.core import worker

    report = worker._Worker._report
    sent: list[bool] = []

    def then_stop(self: worker._Worker) -> None:
        report(self)
        if not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(worker._Worker, "_report", then_stop)


def test_a_stopped_retrain_wait_exits_1_and_says_what_is_left(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "lib"
    make_images(root, [f"2024/{i:02d}.jpg" for i in range(40)])
    body(run("scan", str(root / "2024"), "--json"))
    body(run("worker", "--json"))
    _stop_after_the_first_batch(monkeypatch)

    result = run(
        "retrain", str(root / "2024"), "--yes", "--confirm", "DELETE ALL VECTORS", "--wait"
    )

    assert result.exit_code == 1
    assert "stopped before the end: 8 jobs of session 2 are still queued" in result.stderr
    assert "vectorctl worker" in result.stderr


def test_a_worker_without_a_terminal_prints_progress_lines(run, tmp_path: Path) -> None:
    make_images(tmp_path / "lib", ["a.jpg", "b.jpg"])
    body(run("scan", str(tmp_path / "lib"), "--json"))
    result = run("worker")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "worker started" in lines[0]
    assert any(" embedding: 2/2" in line for line in lines)
    assert lines[-1].startswith("embedded 2, failed 0")


def test_a_following_worker_with_json_prints_ndjson_until_stopped(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_images(tmp_path / "lib", ["a.jpg", "b.jpg"])
    body(run("scan", str(tmp_path / "lib"), "--json"))
    _stop_after_the_first_batch(monkeypatch)
    result = run("worker", "--follow", "--json")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "started"
    assert any(e["event"] == "progress" and e["phase"] == "embedding" for e in events)
    assert events[-1]["event"] == "result" and events[-1]["embedded"] == 2
    assert all("time" in e for e in events)
