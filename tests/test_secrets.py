"""Credentials never reach the screen, an error message or the store's owner file."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from tests.builders import deployment_settings
from tests.commands import vectorctl
from vectorctl.core.settings import mask_url
from vectorctl.core.store.lock import OWNER_FILE, DirectoryLock

# Every form of a credential SQLAlchemy and libpq accept, and what `info` shows for it.
MASKED = {
    "postgresql://ops:hunter2@db/images": "postgresql://ops:***@db/images",
    "postgresql://ops:hun%40ter2@db/images": "postgresql://ops:***@db/images",
    "postgresql://ops:hun@ter2@db/images": "postgresql://ops:***@db/images",
    "postgresql://ops:hun/ter2@db/images": "postgresql://ops:***@db/images",
    "postgresql://ops@db/images?password=hunter2": "postgresql://ops@db/images?password=***",
    "postgresql://ops@db/images?sslmode=require&sslpassword=hunter2&sslkey=/etc/k.pem": (
        "postgresql://ops@db/images?sslmode=require&sslpassword=***&sslkey=/etc/k.pem"
    ),
    "postgresql:///images?host=/run/pg&user=ops&password=hunter2": (
        "postgresql:///images?host=/run/pg&user=ops&password=***"
    ),
    "postgresql://ops:hunter2@db:nan/images": "postgresql://***@db:nan/images",
    "https://q.internal:6333/?api_key=hunter2": "https://q.internal:6333/?api_key=***",
    "sqlite:////var/lib/vectorctl/db.sqlite3": "sqlite:////var/lib/vectorctl/db.sqlite3",
    "/var/lib/vectorctl/qdrant-edge": "/var/lib/vectorctl/qdrant-edge",
}


def test_mask_url_hides_every_credential_form() -> None:
    assert {url: mask_url(url) for url in MASKED} == MASKED


def test_info_masks_a_password_given_as_a_query_parameter(tmp_path: Path) -> None:
    settings = deployment_settings(
        tmp_path,
        database_url="postgresql://ops@db.internal/images?password=hunter2",
        qdrant_url="https://q.internal:6333/?api_key=sekrit",
    )
    described = repr(settings.describe())
    assert "hunter2" not in described and "sekrit" not in described
    assert "password=***" in described


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ops@127.0.0.1:9/images?password=hunter2",
        # An unescaped `@` in the password: the driver is handed `ter2@127.0.0.1` as the host
        # and quotes it in its own message.
        "postgresql://ops:hun@ter2@127.0.0.1:9/images",
    ],
)
def test_unreachable_database_hides_the_password_in_every_form(tmp_path: Path, url: str) -> None:
    common = ["--database-url", url, "--qdrant-path", str(tmp_path / "q")]
    common += ["--data-dir", str(tmp_path)]
    for args in (["info"], ["stats", "--json"]):
        proc = vectorctl(*common, *args)
        assert proc.returncode == 1, proc.stderr
        output = proc.stdout + proc.stderr
        assert "Traceback" not in output
        assert "hunter2" not in output and "ter2" not in output
        assert "unreachable" in output
    assert json.loads(proc.stdout)["exit_code"] == 1


def owner_line(directory: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> str:
    monkeypatch.setattr(sys, "orig_argv", argv)
    lock = DirectoryLock.acquire(directory, "test store")
    try:
        return (directory / OWNER_FILE).read_text()
    finally:
        lock.release()


def test_owner_file_holds_no_secret_in_any_flag_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for flags in (
        ["--database-url", "postgresql://ops@db/images?password=hunter2"],
        ["--database-url=postgresql://ops@db/images?password=hunter2"],
        ["--database-url=postgresql://ops:hunter2@db/images"],
        ["--qdrant-url=https://q:6333/?api_key=hunter2"],
        ["--qdrant-api-key", "hunter2"],
    ):
        line = owner_line(tmp_path, monkeypatch, ["vectorctl", *flags, "tui"])
        assert line.startswith(f"pid {os.getpid()} (vectorctl --"), line
        assert "hunter2" not in line, line
        assert "tui, since" in line


def test_owner_file_is_readable_by_its_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh, old = tmp_path / "fresh", tmp_path / "old"
    old.mkdir()
    (old / OWNER_FILE).write_text("")
    (old / OWNER_FILE).chmod(0o644)  # as earlier versions left it
    for directory in (fresh, old):
        owner_line(directory, monkeypatch, ["vectorctl", "tui"])
        assert stat.S_IMODE((directory / OWNER_FILE).stat().st_mode) == 0o600
