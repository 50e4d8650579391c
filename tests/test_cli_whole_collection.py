"""The command line never acts on more than the operator meant: a delete of the whole
collection is confirmed like a reset, a retrain's count is counted once, a read never
creates a collection, and the console does not start without a terminal."""

from __future__ import annotations

from tests.builders import delete_asset_rows
from tests.commands import Run, doc, vectorctl_on
from vectorctl.core.service import VectorService
from vectorctl.core.settings import RESET_PHRASE, Settings, with_overrides


def test_a_directory_holding_every_vector_needs_the_reset_phrase(
    run: Run, populated: dict[str, int]
) -> None:
    refused = run("delete", "dir", "/photos", "--yes", "--json")
    assert refused.exit_code == 2
    assert f'--confirm "{RESET_PHRASE}"' in doc(refused)["error"]
    assert doc(run("preview", "dir", "/photos", "--json"))["count"] == 3
    assert doc(run("audit", "--json")) == []

    wrong = run("delete", "dir", "/photos", "--confirm", "delete all vectors", "--json")
    assert wrong.exit_code == 2

    done = run("delete", "dir", "/photos", "--confirm", RESET_PHRASE, "--json")
    assert done.exit_code == 0, done.output
    assert doc(done)["deleted_count"] == 3


def test_the_preview_says_a_delete_would_need_the_phrase(
    run: Run, populated: dict[str, int]
) -> None:
    whole = doc(run("preview", "dir", "/photos", "--json"))
    assert (whole["count"], whole["total"], whole["needs_phrase"]) == (3, 3, True)
    part = doc(run("preview", "dir", "/photos/2024", "--json"))
    assert (part["count"], part["needs_phrase"]) == (2, False)


def test_cleaning_orphans_that_are_the_whole_collection_needs_the_phrase(
    run: Run, settings: Settings, populated: dict[str, int]
) -> None:
    service = VectorService(settings)
    delete_asset_rows(service, list(populated.values()))  # the database lost every asset
    service.close()
    refused = run("orphans", "clean", "--yes", "--json")
    assert refused.exit_code == 2 and "nothing was deleted" in doc(refused)["error"]
    done = run("orphans", "clean", "--confirm", RESET_PHRASE, "--json")
    assert done.exit_code == 0, done.output
    assert doc(done)["deleted_count"] == 3


def test_retrain_of_a_directory_and_one_inside_it_is_refused_before_counting(
    run: Run, populated: dict[str, int]
) -> None:
    result = run("retrain", "/photos", "/photos/2024", "--yes")
    assert result.exit_code == 2
    assert "/photos/2024 lies inside /photos" in result.output
    assert "vectors will be deleted" not in result.output
    assert doc(run("audit", "--json")) == []


def test_reads_on_a_mistyped_collection_say_so_and_create_nothing(
    settings: Settings, populated: dict[str, int]
) -> None:
    proc = vectorctl_on(settings, "--collection", "imagse", "stats")
    assert proc.returncode == 1
    assert "collection 'imagse' does not exist" in proc.stderr
    assert vectorctl_on(settings, "--collection", "imagse", "preview", "dir", "/x").returncode == 1
    service = VectorService(with_overrides(settings, collection="imagse"))
    try:
        assert not service.store.collection_info().exists
    finally:
        service.close()


def test_the_console_without_a_terminal_says_so_and_exits_2(
    settings: Settings, populated: dict[str, int]
) -> None:
    proc = vectorctl_on(settings)  # stdin and stderr are pipes here
    assert proc.returncode == 2
    assert "not a terminal" in proc.stderr
