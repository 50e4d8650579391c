"""Directory prefixes and configuration resolution (no database or store needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vectorctl.core.errors import ValidationError
from vectorctl.core.paths import ancestor_dirs, is_under, normalize_prefix, parent_dir
from vectorctl.core.settings import load_settings, mask_url


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "/", "//", "photos/2024", "./photos", "/photos/../etc", "/photos/./x", " /photos"],
)
def test_normalize_prefix_refuses_nonsense(bad: str) -> None:
    with pytest.raises(ValidationError):
        normalize_prefix(bad)


def test_normalize_prefix_drops_trailing_and_double_slashes() -> None:
    assert normalize_prefix("/photos//2024/") == "/photos/2024"


def test_ancestor_dirs_lists_every_directory_above_a_file() -> None:
    assert ancestor_dirs("/photos/2024/trip/a.jpg") == [
        "/photos",
        "/photos/2024",
        "/photos/2024/trip",
    ]
    assert ancestor_dirs("/a.jpg") == []
    assert parent_dir("/photos/2024/a.jpg") == "/photos/2024"


def test_is_under_respects_directory_boundaries() -> None:
    assert is_under("/photos/2024/a.jpg", "/photos/2024")
    assert not is_under("/photos/2024-old/a.jpg", "/photos/2024")


def test_flags_beat_environment_beat_profile_beat_default(tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text('collection = "from_profile"\nqdrant_url = "http://profile:6333"\n')
    env = {"VECTORCTL_COLLECTION": "from_env", "VECTORCTL_DATA_DIR": str(tmp_path)}
    s = load_settings({"collection": "from_flag"}, env=env, profile=profile)
    assert (s.collection, s.sources["collection"]) == ("from_flag", "flag")
    s = load_settings({}, env=env, profile=profile)
    assert (s.collection, s.sources["collection"]) == ("from_env", "env")
    assert (s.qdrant_url, s.store_kind) == ("http://profile:6333", "server")
    s = load_settings({}, env={"VECTORCTL_DATA_DIR": str(tmp_path)}, use_profile=False)
    assert s.collection == "image_assets"
    assert s.store_kind == "edge"
    assert s.database_url == f"sqlite:///{tmp_path / 'vectorctl.sqlite3'}"
    assert s.embedded_database


def test_two_stores_at_once_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="choose one vector store"):
        load_settings(
            {"qdrant_url": "http://x", "qdrant_path": str(tmp_path)}, env={}, use_profile=False
        )


def test_profile_with_unknown_key_is_refused(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('colection = "typo"\n')
    with pytest.raises(ValidationError, match="colection"):
        load_settings({}, env={}, profile=profile)


def test_secrets_are_masked_in_the_description(tmp_path: Path) -> None:
    s = load_settings(
        {
            "database_url": "postgresql://ops:hunter2@db.internal/images",
            "qdrant_url": "https://q.internal:6333",
            "qdrant_api_key": "sekrit-key",
            "data_dir": str(tmp_path),
        },
        env={},
        use_profile=False,
    )
    text = repr(s.describe())
    assert "hunter2" not in text and "sekrit-key" not in text
    assert mask_url("postgresql://ops:hunter2@h/db") == "postgresql://ops:***@h/db"
