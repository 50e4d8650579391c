"""`vectorctl backups`: every archive with the audit entry it undoes, whole-archive checks, and
pruning by a retention rule, audited like any destructive change."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.builders import index_assets
from tests.commands import Run, audit_entry, doc, paused_at
from tests.commands import vectorctl_on as vectorctl
from tests.test_reliability import _flip_last_byte_of_member
from vectorctl.core.db.models import VectorDeletionLog
from vectorctl.core.service import VectorService
from vectorctl.core.settings import RESET_PHRASE, Settings
from vectorctl.core.targets import Target, TargetKind

DIR = TargetKind.DIRECTORY
LIBRARY = [f"/lib/{d}/{i}.jpg" for d in ("a", "b", "c") for i in range(3)]


@pytest.fixture
def three_deletes(service: VectorService) -> list[int]:
    """Three directory deletes, each with its archive; the CLI then opens the deployment."""
    index_assets(service, LIBRARY)
    # The last takes what is left of the collection: confirmed with the reset phrase.
    ids = [
        service.delete(Target(DIR, f"/lib/{d}"), reason=d, confirm=RESET_PHRASE).log_id or 0
        for d in ("a", "b", "c")
    ]
    service.close()
    return ids


def by_entry(result: Result) -> dict[Any, dict[str, Any]]:
    assert result.exit_code in (0, 1), result.output
    return {b["log_id"]: b for b in doc(result)}  # type: ignore[union-attr]


def test_backups_lists_each_archive_with_its_entry_and_state(
    run: Run, three_deletes: list[int], service: VectorService
) -> None:
    a, b, c = three_deletes
    entry_b = service.audit_entry(b)
    Path(str(entry_b.backup)).unlink()  # lost
    stray = Path(str(service.audit_entry(a).backup)).with_name("000099-directory-x-000000.vbak")
    stray.write_bytes(Path(str(service.audit_entry(a).backup)).read_bytes())  # nobody's
    partial = stray.with_name("000098-directory-y-111111.vbak.partial")
    partial.write_bytes(b"half")
    service.close()

    listed = by_entry(run("backups", "--json"))

    assert listed[a]["state"] == "ok" and listed[a]["points"] == 3
    assert (listed[a]["deletion_type"], listed[a]["target"]) == ("DIRECTORY", "/lib/a")
    assert listed[b]["state"] == "missing"
    assert listed[c]["state"] == "ok"
    assert listed[99]["state"] == "unclaimed"
    assert listed[98]["state"] == "partial"
    text = run("backups")
    assert "missing" in text.output and "unclaimed" in text.output


def test_backups_verify_reads_archives_whole_and_fails_on_a_damaged_one(
    run: Run, three_deletes: list[int], service: VectorService
) -> None:
    a, b, _ = three_deletes
    assert run("backups", "verify").exit_code == 0
    _flip_last_byte_of_member(Path(str(service.audit_entry(b).backup)), "points/000000.f32")
    service.close()

    checked = run("backups", "verify", "--json")

    assert checked.exit_code == 1
    listed = by_entry(checked)
    assert listed[a]["state"] == "verified"
    assert listed[b]["state"] == "damaged" and listed[b]["problem"]
    assert run("backups", "verify", str(a)).exit_code == 0
    assert run("backups", "verify", "999").exit_code == 2


def test_prune_removes_what_the_rule_selects_audited_and_restore_says_so(
    run: Run, three_deletes: list[int], service: VectorService
) -> None:
    a, b, c = three_deletes
    paths = {i: Path(str(service.audit_entry(i).backup)) for i in three_deletes}
    service.close()

    refused = run("backups", "prune", "--older-than", "0", "--keep-last", "1")
    assert refused.exit_code == 1 and all(p.exists() for p in paths.values())  # not confirmed

    pruned = run("backups", "prune", "--older-than", "0", "--keep-last", "1", "--yes", "--json")

    assert pruned.exit_code == 0, pruned.output
    body = doc(pruned)
    assert (body["pruned"], body["points"]) == (2, 6)  # type: ignore[index]
    assert [p.exists() for p in (paths[a], paths[b], paths[c])] == [False, False, True]
    entry = service.audit_entry(body["log_id"])  # type: ignore[index]
    assert (entry.deletion_type, entry.status, entry.vector_count) == (
        "BACKUP_PRUNE",
        "completed",
        6,
    )
    listed = by_entry(run("backups", "--json"))
    assert listed[a]["state"] == listed[b]["state"] == "pruned"
    service.close()

    restore = run("restore", str(a), "--yes")
    assert restore.exit_code == 2 and "removed by `backups prune`" in restore.output
    assert run("restore", str(c), "--yes").exit_code == 0


def test_prune_needs_a_rule_and_finds_nothing_due_without_writing(
    run: Run, three_deletes: list[int], service: VectorService
) -> None:
    assert run("backups", "prune", "--yes").exit_code == 2
    nothing = run("backups", "prune", "--older-than", "365", "--yes", "--json")
    assert doc(nothing) == {"log_id": None, "pruned": 0, "bytes": 0, "points": 0}
    with service.db() as db:
        assert db.query(VectorDeletionLog).filter_by(deletion_type="BACKUP_PRUNE").count() == 0


def test_kill_9_during_a_prune_is_settled_to_the_archives_really_removed(
    deployment: Settings,
    tmp_path: Path,
) -> None:
    service = VectorService(deployment)
    for d in ("keep", "go/a", "go/b"):
        service.delete(Target(DIR, f"/lib/{d}"), reason="t", confirm=RESET_PHRASE)
    service.close()
    paused = paused_at(
        deployment,
        tmp_path,
        "vectorctl.core.protocol:_remove_archive:2:after",
        "backups",
        "prune",
        "--older-than",
        "0",
        "--yes",
    )
    paused.kill(signal.SIGKILL)

    entry = audit_entry(deployment)
    assert (entry["deletion_type"], entry["status"]) == ("BACKUP_PRUNE", "interrupted")
    listed = json.loads(vectorctl(deployment, "backups", "--json").stdout)
    assert sorted(b["target"] for b in listed if b["state"] == "pruned") == [
        "/lib/go/a",
        "/lib/go/b",
    ]
    assert entry["vector_count"] == 12  # the newest two archives went, six points each
