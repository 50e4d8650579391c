"""The command line as scripts and new operators use it: --version, options in any place,
help with examples, completion, validated choices, output that is not cut, warnings
before a restore that undoes later work, a log file, and where each setting came from."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.builders import add_session, deployment_settings, index_assets
from tests.commands import ROOT, Run, doc, environment, global_options, vectorctl, vectorctl_on
from tests.conftest import upgraded
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings
from vectorctl.core.targets import Target, TargetKind


def test_version_is_printed() -> None:
    proc = vectorctl("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("vectorctl, version ")


def test_global_options_are_taken_after_the_command_too(
    settings: Settings, populated: dict[str, int]
) -> None:
    from vectorctl.tui.cli import cli

    result = CliRunner().invoke(cli, ["stats", "--json", *global_options(settings)])
    assert result.exit_code == 0, result.output
    assert {r["path"] for r in json.loads(result.stdout)} >= {"/photos/2024"}
    # Short flags written together (-vv) move with the rest.
    result = CliRunner().invoke(cli, ["stats", "--json", "-vv", *global_options(settings)])
    assert result.exit_code == 0, result.output


def test_help_shows_examples_and_how_to_complete() -> None:
    proc = vectorctl("--help")
    assert "Examples:" in proc.stdout and "vectorctl delete dir" in proc.stdout
    assert "_VECTORCTL_COMPLETE=bash_source" in proc.stdout


def test_the_commands_an_operator_types_most_show_examples_in_their_help() -> None:
    from vectorctl.tui.cli import cli

    for command in ("stats", "preview", "delete", "audit", "restore", "worker", "retrain"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0, command
        examples = result.stdout.split("Examples:", 1)[1].splitlines()
        # Each example is a line of its own, as typed (click leaves them unwrapped).
        assert examples[1].strip().startswith(f"vectorctl {command} "), command


def test_completion_offers_directories_and_ids_from_the_database(
    settings: Settings, populated: dict[str, int]
) -> None:
    def complete(*words: str) -> list[str]:
        line = " ".join(["vectorctl", *global_options(settings), *words])
        proc = vectorctl(
            env={
                "_VECTORCTL_COMPLETE": "bash_complete",
                "COMP_WORDS": line,
                "COMP_CWORD": str(len(line.split()) - (0 if line.endswith(" ") else 1)),
            }
        )
        return [item.split(",", 1)[1] for item in proc.stdout.split()]

    assert complete("delete", "dir", "/photos/20") == ["/photos/2024", "/photos/2024-old"]
    assert complete("retrain", "/photos/2024-") == ["/photos/2024-old"]
    assert complete("jobs", "") == ["1"]


def test_unknown_choices_and_limits_are_refused(run: Run, populated: dict[str, int]) -> None:
    for args in (
        ("audit", "--type", "BOGUS"),
        ("audit", "--status", "BOGUS"),
        ("audit", "--limit", "0"),
        ("jobs", "1", "--status", "BOGUS"),
    ):
        result = run(*args)
        assert result.exit_code == 2, args
    assert run("audit", "--type", "directory", "--json").exit_code == 0  # any case
    # Said as the tables spell them, not folded to lower case.
    assert "is not one of DIRECTORY, ASSET," in run("audit", "--type", "BOGUS").output
    assert "[PENDING|RUNNING|COMPLETED|FAILED|CANCELLED]" in run("jobs", "--help").output


def test_every_audited_change_can_be_filtered_by_its_type(
    run: Run, populated: dict[str, int]
) -> None:
    # The types written by the drift, collections, snapshots and blue/green retrain work.
    for kind in (
        "DRIFT_REPAIR",
        "PAYLOAD_INDEX",
        "ALIAS_SWITCH",
        "RETRAIN_INTO",
        "SNAPSHOT_RESTORE",
        "SNAPSHOT_DELETE",
        "BACKUP_PRUNE",
        "RESTORE",
        "RETRAIN",
    ):
        result = run("audit", "--type", kind, "--json")
        assert result.exit_code == 0, (kind, result.output)


def test_a_directory_matching_nothing_is_said_like_an_unknown_asset(
    run: Run, populated: dict[str, int]
) -> None:
    for args in (
        ("preview", "dir", "/Photos/2024"),
        ("delete", "dir", "/Photos/2024", "--yes"),
        ("stats", "--under", "/Photos"),
        ("preview", "asset", "999"),
    ):
        result = run(*args, "--json")
        assert result.exit_code == 2, args
    message = doc(run("preview", "dir", "/Photos/2024", "--json"))["error"]
    assert "directory /Photos/2024 holds no vectors and no assets" in message


def test_restore_warns_when_the_directory_was_embedded_again_or_restored_since(
    run: Run, settings: Settings, populated: dict[str, int]
) -> None:
    deleted = doc(run("delete", "dir", "/photos/2024", "--yes", "--json"))
    service = VectorService(settings)
    add_session(service, "/photos/2024", [populated["/photos/2024/a.jpg"]])  # embedded again
    service.close()

    first = run("restore", str(deleted["log_id"]), "--yes", "--json")
    assert first.exit_code == 0, first.output
    assert "/photos/2024 was embedded again since (session 2" in first.stderr
    assert doc(first)["warnings"]

    again = run("restore", str(deleted["log_id"]), "--yes", "--json")
    assert f"it was restored already, by audit entry {doc(first)['log_id']}" in again.stderr


def test_restore_on_a_script_without_yes_refuses_like_delete(
    run: Run, settings: Settings, populated: dict[str, int]
) -> None:
    deleted = doc(run("delete", "dir", "/photos/2024", "--yes", "--json"))
    refused = run("restore", str(deleted["log_id"]), "--json")
    assert refused.exit_code == 1
    assert doc(refused)["restored_count"] == 0 and doc(refused)["refused"] == "not confirmed"
    assert [e["deletion_type"] for e in doc(run("audit", "--json"))] == ["DIRECTORY"]
    assert doc(run("preview", "dir", "/photos/2024", "--json"))["count"] == 0


def test_piped_output_is_not_cut_at_80_columns(tmp_path: Path) -> None:
    deep = "/srv/" + "/".join(f"level-{i:02d}-with-a-long-name" for i in range(6))
    settings = deployment_settings(tmp_path)
    upgraded(settings.database_url)
    service = VectorService(settings)
    service.ensure_collection()
    index_assets(service, [f"{deep}/a.jpg"])
    service.close()
    proc = vectorctl(*global_options(settings), "stats", env={"COLUMNS": "80"})
    lines = proc.stdout.splitlines()
    assert any(line.split()[0] == deep for line in lines[1:])  # whole, on one line
    assert max(len(line) for line in lines) > 80


def _on_a_terminal(settings: Settings, *args: str, columns: int) -> tuple[str, str]:
    """`vectorctl` with stdout on a terminal `columns` wide (a pty): what it shows there,
    and what it said on stderr."""
    import os
    import pty
    import subprocess

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vectorctl.tui", *global_options(settings), *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(COLUMNS=str(columns), LINES="24", TERM="xterm"),
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the pty's other end closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
    import re

    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode())
    return shown.replace("\r\n", "\n"), err


def test_tables_on_an_80_column_terminal_fit_and_say_what_they_left_out(
    tmp_path: Path,
) -> None:
    deep = "/srv/exports/customer-images/production/library"
    settings = deployment_settings(tmp_path)
    upgraded(settings.database_url)
    service = VectorService(settings)
    service.ensure_collection()
    index_assets(service, [f"{deep}/2024/trip/a.jpg", f"{deep}/2024/party/b.jpg"])
    service.delete(Target(TargetKind.DIRECTORY, f"{deep}/2024/party"), reason="wrong party")
    service.close()

    for args, kept, left_out in (
        (("stats",), ["directory", "vectors", "assets", "missing", "orphans"], "direct"),
        (("audit",), ["id", "type", "count", "status", "target"], "operator"),
    ):
        shown, err = _on_a_terminal(settings, *args, columns=80)
        lines = shown.splitlines()
        assert lines and all(len(line) <= 80 for line in lines), shown
        assert set(kept) <= set(lines[0].split()), lines[0]
        assert left_out not in lines[0].split()
        assert left_out in err and "left out at 80 columns" in err
        wide, err = _on_a_terminal(settings, *args, columns=200)
        assert "left out" not in err and left_out in wide.splitlines()[0].split()


def test_info_says_where_every_setting_came_from(run: Run, populated: dict[str, int]) -> None:
    config = doc(run("info", "--json"))["config"]
    sources = config["sources"]
    assert set(sources) == set(config) - {"sources"}
    assert sources["database_url"] == "flag" and sources["store"] == "flag"
    assert sources["distance"] == "default" and sources["qdrant_api_key"] == "unset"


def test_destructive_operations_are_logged_with_their_audit_id(
    settings: Settings, populated: dict[str, int]
) -> None:
    proc = vectorctl_on(settings, "delete", "dir", "/photos/2024", "--yes", "--reason", "redo")
    assert proc.returncode == 0, proc.stderr
    log = (settings.data_dir / "logs" / "vectorctl.log").read_text()
    assert "audit 1: directory /photos/2024 started by cli@test: 2 expected" in log
    assert "audit 1: directory /photos/2024 completed: 2 done, backup " in log
    assert "password" not in log


def test_verbose_logs_on_stderr_and_quiet_keeps_it_for_errors(
    settings: Settings, populated: dict[str, int]
) -> None:
    loud = vectorctl_on(settings, "-v", "delete", "dir", "/photos/2024-old", "--yes")
    assert "INFO vectorctl.audit" in loud.stderr
    quiet = vectorctl_on(settings, "-q", "preview", "dir", "/nowhere")
    assert quiet.returncode == 2 and quiet.stderr.startswith("error:")


def test_the_clip_extra_missing_says_how_to_install_it_and_builds_no_demo(
    tmp_path: Path,
) -> None:
    import subprocess

    blocked = (
        "import sys; sys.modules['torch'] = None; sys.modules['open_clip'] = None; "
        "from vectorctl.tui.cli import main; sys.argv = ['vectorctl'] + sys.argv[1:]; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", blocked, "demo", "--data-dir", str(tmp_path / "d"), "--no-open"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment(),
    )
    assert proc.returncode == 1
    assert "pip install 'vectorctl[clip]'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "d" / "demo-photos").exists()
    assert not (tmp_path / "d" / "vectorctl.sqlite3").exists()


def test_progress_lines_are_few_but_say_each_phase_and_its_end(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from vectorctl.core.progress import ProgressEvent
    from vectorctl.tui.output import ProgressLines

    lines = ProgressLines(json=False, every=3600)
    for done in range(0, 101):
        lines(ProgressEvent("embedding", done, 100))
    lines(ProgressEvent("deleting", 0, 5))
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(" ", 1)[1] for line in printed] == [
        "embedding: 0/100",  # the first of a phase
        "embedding: 100/100",  # and its end, however soon
        "deleting: 0/5",
    ]
