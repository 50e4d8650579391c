"""A profile value of the wrong type is refused with a message, never coerced or crashed on."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from vectorctl.core.errors import ValidationError
from vectorctl.core.settings import load_settings

WRONG = {
    "collection = 5": "collection must be a quoted string, not a whole number",
    "operator = {a = 1}": "operator must be a quoted string, not a table",
    "database_url = ['sqlite:///x.db']": "database_url must be a quoted string, not an array",
    "data_dir = 2024-06-01": "data_dir must be a quoted string, not a date",
    "vector_size = 3.7": "vector_size must be a whole number, not a decimal number",
    "vector_size = true": "vector_size must be a whole number, not true or false",
    "vector_size = '512'": "vector_size must be a whole number, not a quoted string",
    "read_only = 'yes'": "read_only must be true or false, not a quoted string",
    "read_only = 1": "read_only must be true or false, not a whole number",
}


@pytest.mark.parametrize("line", WRONG)
def test_profile_value_of_the_wrong_type_is_refused(tmp_path: Path, line: str) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text(line + "\n")
    with pytest.raises(ValidationError) as caught:
        load_settings({}, env={}, profile=profile)
    assert str(caught.value) == f"profile file {profile}: {WRONG[line]}"


def test_profile_that_is_not_utf8_is_refused_naming_the_file(tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_bytes('operator = "J\u00fcrgen"\n'.encode("latin-1"))
    with pytest.raises(ValidationError, match=f"profile file {profile} is not UTF-8"):
        load_settings({}, env={}, profile=profile)


@pytest.mark.parametrize("content", [b"vector_size = 3.7\n", b'operator = "J\xfcrgen"\n'])
def test_cli_exits_2_on_a_bad_profile(tmp_path: Path, content: bytes) -> None:
    from vectorctl.tui.cli import cli

    profile = tmp_path / "profile.toml"
    profile.write_bytes(content)
    result = CliRunner().invoke(cli, ["--profile", str(profile), "info", "--json"])
    assert result.exit_code == 2, result.output
    assert str(profile) in result.stderr
    assert "Traceback" not in result.output


def test_a_profiles_keymap_names_bindings_with_or_without_quotes(tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text(
        '[keymap]\n"directories.delete" = "ctrl+d"\napp.quit = "ctrl+q"\n', encoding="utf-8"
    )
    settings = load_settings({}, env={}, profile=profile)
    assert dict(settings.keymap) == {"directories.delete": "ctrl+d", "app.quit": "ctrl+q"}


def test_a_keymap_entry_that_is_not_keys_is_refused(tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text("[keymap]\napp.quit = 5\n", encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_settings({}, env={}, profile=profile)
    assert str(caught.value) == (
        f"profile file {profile}: keymap.app.quit must be keys in a quoted string such as "
        '"ctrl+d" or "d,delete", not a whole number'
    )
