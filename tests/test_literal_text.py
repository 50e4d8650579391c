"""The command line shows what comes from data literally: a directory named `[draft]`, a
reason `copied to [/mnt/archive] first` and an operator `[bold]op[/]` are text, not markup."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.bracketed import (
    DRAFT,
    EMOJI_DIR,
    FILE,
    JOB_ERROR,
    OLD,
    OPERATOR,
    ORPHAN,
    REASON,
    populate_bracketed,
)
from tests.builders import deployment_settings
from vectorctl.core.service import VectorService
from vectorctl.tui import output


@dataclass
class Cli:
    """vectorctl on the bracketed library."""

    options: list[str]
    session: int  # the training session over DRAFT

    def __call__(self, *args: str) -> Result:
        from vectorctl.tui.cli import cli

        result = CliRunner().invoke(cli, [*self.options, *args])
        assert "Traceback" not in result.output
        return result

    def text_and_json(self, *args: str) -> tuple[str, Any]:
        text, as_json = self(*args), self(*args, "--json")
        assert text.exit_code == 0, text.output
        assert as_json.exit_code == 0, as_json.output
        return text.stdout, json.loads(as_json.stdout)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    settings = deployment_settings(tmp_path, operator=OPERATOR)
    service = VectorService(settings)
    session = populate_bracketed(service)
    service.close()
    monkeypatch.setenv("VECTORCTL_PROFILE", "")
    # Wide enough that no table folds a name. (The console fixed its width when imported,
    # from COLUMNS if set, as pytest-xdist does, so setting COLUMNS now would not do.)
    monkeypatch.setattr(output.stdout, "_width", 400)
    options = ["--database-url", settings.database_url, "--qdrant-edge"]
    options += [str(settings.qdrant_edge), "--data-dir", str(settings.data_dir)]
    return Cli([*options, "--operator", OPERATOR], session)


def test_stats_and_preview_show_bracketed_directories_literally(cli: Cli) -> None:
    text, rows = cli.text_and_json("stats")
    assert DRAFT in text and EMOJI_DIR in text
    assert {DRAFT, EMOJI_DIR} <= {r["path"] for r in rows}

    text, preview = cli.text_and_json("preview", "dir", DRAFT)
    assert f"selected by directory {DRAFT}" in text and FILE in text
    assert FILE in {s["path"] for s in preview["sample"]}


def test_sessions_jobs_and_orphans_show_bracketed_names_literally(cli: Cli) -> None:
    text, sessions = cli.text_and_json("sessions")
    assert DRAFT in text
    assert [s["directory_path"] for s in sessions] == [DRAFT]

    text, jobs = cli.text_and_json("jobs", str(cli.session))
    assert FILE in text and JOB_ERROR in text
    assert JOB_ERROR in {j["error_message"] for j in jobs}

    text, orphans = cli.text_and_json("orphans")
    assert ORPHAN in text
    assert [o["path"] for o in orphans["orphans"]] == [ORPHAN]


def test_delete_and_audit_show_reason_and_operator_literally(cli: Cli) -> None:
    deleted = cli("delete", "dir", DRAFT, "--yes", "--reason", REASON)
    assert deleted.exit_code == 0, deleted.output
    assert f"selected by directory {DRAFT}" in deleted.stdout and FILE in deleted.stdout

    text, entries = cli.text_and_json("audit")
    for literal in (DRAFT, OLD, REASON, OPERATOR):
        assert literal in text
    assert [(e["deletion_target"], e["deletion_reason"], e["operator"]) for e in entries] == [
        (DRAFT, REASON, OPERATOR),
        (OLD, REASON, OPERATOR),
    ]
    found = cli("audit", "--text", "[/mnt/archive]", "--json")
    assert len(json.loads(found.stdout)) == 2


def test_an_error_quoting_brackets_is_one_literal_line(cli: Cli) -> None:
    for args in (["preview", "dir", "[draft]/x"], ["preview", "dir", "[draft]/x", "--json"]):
        result = cli(*args)
        assert result.exit_code == 2
        assert "directory prefix '[draft]/x' is relative" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(result.stdout)["error"].startswith("directory prefix '[draft]/x'")


def test_info_shows_configuration_values_literally(cli: Cli) -> None:
    text, info = cli.text_and_json("--collection", "[imgs]", "info")
    assert "[imgs]" in text and OPERATOR in text
    assert (info["config"]["collection"], info["config"]["operator"]) == ("[imgs]", OPERATOR)
