"""scan, worker, retrain and demo from the command line, with the tiny OpenCLIP model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from core.service import VectorService
from core.settings import Settings
from tests.commands import global_options
from tests.tiny_clip import TINY_DIM, make_images, register_tiny_model


@pytest.fixture
def run(settings: Settings, service: VectorService, tmp_path: Path, monkeypatch):
    from tui.cli import cli

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
    from tui.cli import cli

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
