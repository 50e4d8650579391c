"""The command-line contract: JSON shapes, exit codes, confirmations, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builders import CLI_LIBRARY, delete_asset_rows
from tests.commands import Run, doc, vectorctl
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings


def test_stats_json_lists_directories(run: Run, populated: dict[str, int]) -> None:
    result = run("stats", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["path"]: r for r in doc(result)}
    assert rows["/photos/2024"] == {
        "path": "/photos/2024",
        "vector_count": 2,
        "direct_vector_count": 2,
        "asset_count": 2,
        "session_count": 1,
        "last_trained_at": "2024-06-01T00:00:00+00:00",
        "direct_asset_count": 2,
        "missing_count": 0,
        "orphan_count": 0,
    }
    assert rows["/photos"]["vector_count"] == 3


def test_preview_json(run: Run, populated: dict[str, int]) -> None:
    result = run("preview", "dir", "/photos/2024", "--json")
    assert result.exit_code == 0
    body = doc(result)
    assert body["count"] == 2
    assert {s["path"] for s in body["sample"]} == {"/photos/2024/a.jpg", "/photos/2024/b.jpg"}


def test_delete_without_yes_on_a_script_prints_preview_and_deletes_nothing(
    run: Run, populated: dict[str, int]
) -> None:
    result = run("delete", "dir", "/photos/2024", "--json")
    assert result.exit_code == 1
    assert doc(result)["count"] == 2
    assert doc(run("preview", "dir", "/photos/2024", "--json"))["count"] == 2
    assert doc(run("audit", "--json")) == []


def test_delete_with_yes_json(run: Run, populated: dict[str, int]) -> None:
    result = run("delete", "dir", "/photos/2024", "--yes", "--reason", "redo", "--json")
    assert result.exit_code == 0, result.output
    body = doc(result)
    assert body["deleted_count"] == 2 and body["target"] == "directory /photos/2024"
    assert body["log_id"] and Path(body["backup"]).exists()
    entries = doc(run("audit", "--json"))
    assert [
        (e["deletion_type"], e["vector_count"], e["operator"], e["status"]) for e in entries
    ] == [("DIRECTORY", 2, "cli@test", "completed")]
    restored = run("restore", str(body["log_id"]), "--yes", "--json")
    assert doc(restored)["restored_count"] == 2
    assert doc(run("preview", "dir", "/photos/2024", "--json"))["count"] == 2


@pytest.mark.parametrize(
    "args",
    [
        ("delete", "dir", "/", "--yes"),
        ("delete", "dir", "", "--yes"),
        ("delete", "dir", "photos", "--yes"),
        ("delete", "dir", "/photos/../x", "--yes"),
        ("delete", "asset", "abc", "--yes"),
        ("delete", "asset", "424242", "--yes"),
        ("delete", "session", "x1", "--yes"),
        ("delete", "category", "5", "--yes"),
        ("reset", "--confirm", "delete all vectors"),
        ("audit", "--since", "yesterday"),
        ("delete", "volume", "x"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(run: Run, populated: dict[str, int], args) -> None:
    result = run(*args, "--json") if args[0] != "delete" or args[1] != "volume" else run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert doc(run("preview", "dir", "/photos", "--json"))["count"] == 3
    assert doc(run("audit", "--json")) == []


def test_delete_of_a_directory_that_does_not_exist_exits_2_without_audit(
    run: Run, populated: dict[str, int]
) -> None:
    result = run("delete", "dir", "/nowhere", "--json")
    assert result.exit_code == 2
    assert "directory /nowhere holds no vectors and no assets" in doc(result)["error"]
    assert doc(run("audit", "--json")) == []


def test_delete_of_a_directory_without_vectors_exits_0_without_audit(
    run: Run, settings: Settings, populated: dict[str, int]
) -> None:
    from tests.builders import add_assets

    service = VectorService(settings)
    add_assets(service, ["/inbox/new.jpg"])  # scanned, never embedded
    service.close()
    result = run("delete", "dir", "/inbox", "--json")
    assert result.exit_code == 0
    assert doc(result) == {
        "target": "directory /inbox",
        "deleted_count": 0,
        "log_id": None,
        "backup": None,
        "status": "completed",
    }


def test_orphans_preview_and_clean(run: Run, populated: dict[str, int], settings: Settings) -> None:
    svc = VectorService(settings)
    delete_asset_rows(svc, [populated["/photos/2024-old/c.jpg"]])
    svc.close()
    body = doc(run("orphans", "--json"))
    assert body["count"] == 1
    assert body["orphans"] == [
        {
            "id": populated["/photos/2024-old/c.jpg"],
            "path": "/photos/2024-old/c.jpg",
            "asset_id": str(populated["/photos/2024-old/c.jpg"]),
            "category_id": None,
        }
    ]
    assert run("orphans", "clean", "--json").exit_code == 1  # not confirmed
    cleaned = run("orphans", "clean", "--yes", "--json")
    assert doc(cleaned)["deleted_count"] == 1
    assert doc(run("orphans", "--json"))["count"] == 0


def test_reset_with_the_phrase(run: Run, populated: dict[str, int]) -> None:
    result = run("reset", "--confirm", "DELETE ALL VECTORS", "--no-backup", "--json")
    assert result.exit_code == 0, result.output
    assert doc(result)["deleted_count"] == 3
    assert doc(run("stats", "--json"))[0]["vector_count"] == 0


@pytest.mark.parametrize(
    "args",
    [
        ("delete", "dir", "/photos", "--yes"),
        ("orphans", "clean", "--yes"),
        ("reset", "--confirm", "DELETE ALL VECTORS"),
        ("restore", "1", "--yes"),
        ("db", "upgrade"),
    ],
)
def test_read_only_refuses_mutations_with_exit_2(run: Run, populated: dict[str, int], args) -> None:
    result = run("--read-only", *args)
    assert result.exit_code == 2, result.output
    assert "read-only" in result.output
    assert doc(run("preview", "dir", "/photos", "--json"))["count"] == 3


def test_info_json_reports_both_sides(run: Run, populated: dict[str, int]) -> None:
    # Masking secrets in `info`: tests/test_secrets.py, for every form of a credential.
    body = doc(run("info", "--json"))
    assert body["database_ok"] and body["store_ok"]
    assert body["points"] == 3 and body["assets"] == 3


# -- subprocesses: what an operator really sees ---------------------------------------------


def test_unreachable_qdrant_is_one_line_without_secret(tmp_path: Path) -> None:
    proc = vectorctl(
        "--database-url",
        f"sqlite:///{tmp_path}/x.db",
        "--qdrant-url",
        "http://127.0.0.1:9",
        "--data-dir",
        str(tmp_path),
        "preview",
        "dir",
        "/photos",
        env={"VECTORCTL_QDRANT_API_KEY": "sekrit-key"},
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "127.0.0.1:9" in proc.stderr and "sekrit-key" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unreachable_database_masks_password(tmp_path: Path) -> None:
    proc = vectorctl(
        "--database-url",
        "postgresql://ops:hunter2@127.0.0.1:9/images",
        "--qdrant-path",
        str(tmp_path / "q"),
        "--data-dir",
        str(tmp_path),
        "stats",
        "--json",
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "hunter2" not in proc.stderr + proc.stdout
    assert json.loads(proc.stdout)["exit_code"] == 1


def test_sessions_and_their_jobs(run: Run, populated: dict[str, int]) -> None:
    sessions = doc(run("sessions", "--json"))
    assert [(s["directory_path"], s["job_count"]) for s in sessions] == [("/photos/2024", 1)]
    jobs = doc(run("jobs", str(sessions[0]["id"]), "--json"))
    assert [(j["asset_id"], j["path"], j["status"]) for j in jobs] == [
        (populated["/photos/2024/a.jpg"], "/photos/2024/a.jpg", "COMPLETED")
    ]
    missing = run("jobs", "999", "--json")
    assert missing.exit_code == 2 and "session 999" in missing.output


def test_store_optimize_reports_what_it_did_or_why_it_cannot(
    run: Run, populated: dict[str, int], store_engine: str
) -> None:
    result = run("store", "optimize", "--json")
    if store_engine == "edge":
        assert result.exit_code == 0, result.output
        report = doc(result)
        assert isinstance(report, dict) and report["points"] == len(CLI_LIBRARY)
        assert report["segments_after"] >= 1 and report["open_seconds"] < 5
    else:
        assert result.exit_code == 1
        assert "store migrate --to-edge" in doc(result)["error"]  # type: ignore[index]
    info = doc(run("info", "--json"))
    assert isinstance(info, dict)
    assert (info["optimize_due"], info["advice"]) == (False, [])
    assert info["store_open_seconds"] is not None


def test_bulk_writes_say_when_an_optimize_is_due(
    run: Run, populated: dict[str, int], store_engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vectorctl.core.store import edge_store

    monkeypatch.setattr(edge_store, "OPTIMIZE_AFTER_WRITES", 4)  # the library wrote 3
    deleted = run("delete", "dir", "/photos/2024", "--yes", "--json")
    assert "optimize due" not in deleted.stderr
    restored = run("restore", str(doc(deleted)["log_id"]), "--yes", "--json")  # type: ignore[index]
    assert restored.exit_code == 0, restored.output
    if store_engine == "edge":
        assert "optimize due: 5 points written since the last optimize" in restored.stderr
        assert "vectorctl store optimize" in restored.stderr
        assert run("store", "optimize", "--json").exit_code == 0
        assert "optimize due" not in run("info").stdout
    else:
        assert "optimize due" not in restored.stderr  # local mode has no optimize
