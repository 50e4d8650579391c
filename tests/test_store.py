"""The vector-store adapters, run for real on both embedded engines (qdrant-client local mode
and Qdrant Edge): every behaviour the service relies on, stated once and checked on each."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.builders import (
    STORE_SETTING,
    VECTOR_SIZE,
    deployment_settings,
    legacy_payload,
    tool_payload,
    vector_for,
)
from vectorctl.core.errors import ConnectionFailed, StoreMismatch
from vectorctl.core.store import open_store
from vectorctl.core.store.base import (
    F_ASSET_ID,
    F_CATEGORY_ID,
    F_DIRS,
    F_PATH,
    Record,
    Selector,
    VectorStore,
)
from vectorctl.core.store.lock import describe_current_process

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(store_engine: str, tmp_path: Path) -> Iterator[VectorStore]:
    """An empty collection in a fresh embedded store."""
    opened = open_store(deployment_settings(tmp_path, store_engine))
    opened.ensure_collection(VECTOR_SIZE)
    yield opened
    opened.close()


def point(point_id: int | str, path: str, *, legacy: bool = False, **extra: object) -> Record:
    """A point as vectorctl writes it, or (legacy) as the image-search service did."""
    asset = point_id if isinstance(point_id, int) else 10_000 + len(path)
    make = legacy_payload if legacy else tool_payload
    return Record(id=point_id, payload=make(asset, path, **extra), vector=vector_for(point_id))


def ids(store: VectorStore, selector: Selector | None = None) -> list[int | str]:
    return [r.id for page in store.scroll(selector, fields=[]) for r in page]


def paths(store: VectorStore, selector: Selector | None = None) -> set[str]:
    return {r.payload[F_PATH] for page in store.scroll(selector, fields=[F_PATH]) for r in page}


LIBRARY = [
    point(1, "/photos/2024/a.jpg", session_id=7),
    point(2, "/photos/2024/trip/b.jpg", category_id=3),
    point(3, "/photos/2024-old/c.jpg"),
    point(4, "/photos/2023/d.jpg", session_id=8),
    point(5, "/scans/e.jpg", category_id=3),
    point(6, "/photos/2024/legacy/f.jpg", legacy=True),
    point(7, "/photos/2024-old/legacy/g.jpg", legacy=True),
]


@pytest.fixture
def library(store: VectorStore) -> VectorStore:
    """The store holding LIBRARY (copies: an engine may keep the payload objects it gets)."""
    store.upsert(copy.deepcopy(LIBRARY))
    return store


# -- the collection ---------------------------------------------------------------------------


def test_ensure_collection_is_idempotent_and_keeps_points(store: VectorStore) -> None:
    store.upsert([point(1, "/a/x.jpg")])
    store.ensure_collection(VECTOR_SIZE)
    store.ensure_collection(VECTOR_SIZE)
    info = store.collection_info()
    assert (info.exists, info.vector_size, info.distance, info.points_count) == (
        True,
        VECTOR_SIZE,
        "cosine",
        1,
    )


def test_ensure_collection_with_another_vector_size_raises_store_mismatch(
    store: VectorStore,
) -> None:
    with pytest.raises(StoreMismatch, match=f"size {VECTOR_SIZE}"):
        store.ensure_collection(VECTOR_SIZE + 1)


def test_collection_info_says_a_missing_collection_does_not_exist(
    store_engine: str, tmp_path: Path
) -> None:
    fresh = open_store(deployment_settings(tmp_path, store_engine, collection="other"))
    try:
        assert fresh.collection_info().exists is False
        with pytest.raises(StoreMismatch, match="'other' does not exist"):
            fresh.count()
    finally:
        fresh.close()


def test_recreate_collection_empties_it_and_keeps_vector_config_and_indexes(
    store_engine: str, tmp_path: Path
) -> None:
    store = open_store(deployment_settings(tmp_path, store_engine))
    try:
        store.ensure_collection(VECTOR_SIZE, "dot")
        store.upsert(copy.deepcopy(LIBRARY))
        store.recreate_collection()
        info = store.collection_info()
        assert (info.vector_size, info.distance, info.points_count) == (VECTOR_SIZE, "dot", 0)
        store.upsert([point(1, "/a/b/x.jpg")])
        # Facets need a payload index on Edge (and on a server): they still work.
        assert store.facet(F_DIRS) == {"/a": 1, "/a/b": 1}
        assert store.count(Selector(directory="/a/b")) == 1
    finally:
        store.close()


def test_edge_reads_the_engines_configuration_of_a_shard_without_vectorctl_file(
    tmp_path: Path,
) -> None:
    settings = deployment_settings(tmp_path)
    first = open_store(settings)
    first.ensure_collection(VECTOR_SIZE)
    first.upsert([point(1, "/a/x.jpg")])
    first.close()
    # As if created by another tool: no vectorctl file. Without the engine's own file too,
    # the engine derives its configuration from the segments when it loads the shard.
    shard = Path(str(settings.qdrant_edge)) / "image_assets"
    (shard / "vectorctl-collection.json").unlink()
    (shard / "edge_config.json").unlink()
    store = open_store(settings)
    try:
        info = store.collection_info()
        assert (info.vector_size, info.distance) == (VECTOR_SIZE, "cosine")
        with pytest.raises(StoreMismatch, match=f"size {VECTOR_SIZE}, not {VECTOR_SIZE + 1}"):
            store.ensure_collection(VECTOR_SIZE + 1)
        assert store.count() == 1  # still usable after the refusal
        store.ensure_collection(VECTOR_SIZE)
        assert store.collection_info().vector_size == VECTOR_SIZE
    finally:
        store.close()


def test_create_snapshot_is_none_on_embedded_engines(store: VectorStore) -> None:
    assert store.create_snapshot() is None


def test_reopened_store_sees_persisted_points(store_engine: str, tmp_path: Path) -> None:
    settings = deployment_settings(tmp_path, store_engine)
    first = open_store(settings)
    first.ensure_collection(VECTOR_SIZE)
    first.upsert(copy.deepcopy(LIBRARY))
    first.delete_ids([1])
    first.close()
    second = open_store(settings)
    try:
        assert second.count() == len(LIBRARY) - 1
        assert second.count(Selector(directory="/photos/2024")) == 2
        assert second.collection_info().vector_size == VECTOR_SIZE
    finally:
        second.close()


# -- counting and selecting --------------------------------------------------------------------


def test_count_is_exact(library: VectorStore) -> None:
    assert library.count() == len(LIBRARY)
    assert library.count(Selector(category_id=3)) == 2
    assert library.count(Selector(session_id=7)) == 1


def test_selector_selects_the_union_of_its_fields(library: VectorStore) -> None:
    selector = Selector(
        directory="/photos/2023",
        asset_ids=("5",),
        point_ids=(3,),
        session_id=7,
        category_id=3,
    )
    assert sorted(ids(library, selector)) == [1, 2, 3, 4, 5]
    assert library.count(selector) == 5


def test_empty_selector_selects_nothing(library: VectorStore) -> None:
    assert library.count(Selector()) == 0
    assert ids(library, Selector()) == []
    library.delete(Selector())
    assert library.count() == len(LIBRARY)


def test_directory_does_not_match_sibling_with_same_prefix(library: VectorStore) -> None:
    assert paths(library, Selector(directory="/photos/2024")) == {
        "/photos/2024/a.jpg",
        "/photos/2024/trip/b.jpg",
        "/photos/2024/legacy/f.jpg",
    }


def test_directory_selects_legacy_points_that_have_only_the_service_payload(
    library: VectorStore,
) -> None:
    assert library.count(Selector(directory="/photos/2024/legacy")) == 1
    assert library.count(Selector(directory="/photos/2024-old")) == 2
    assert library.count(Selector(directory="/photos")) == 6


def test_without_dirs_selects_only_legacy_points(library: VectorStore) -> None:
    assert sorted(ids(library, Selector(without_dirs=True))) == [6, 7]


def test_asset_ids_match_the_string_payload_even_when_given_as_integers(
    library: VectorStore,
) -> None:
    assert ids(library, Selector(asset_ids=("2", 4))) == [2, 4]  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix_match", [True, False], ids=["prefix-match", "fallback"])
def test_directory_of_legacy_points_is_found_with_and_without_prefix_match(
    library: VectorStore, prefix_match: bool
) -> None:
    library.prefix_match = prefix_match  # type: ignore[attr-defined]  # as a server < 1.19
    selector = Selector(directory="/photos/2024")
    assert sorted(ids(library, selector)) == [1, 2, 6]
    assert library.count(selector) == 3
    assert library.count(Selector(directory="/photos/2024", point_ids=(6,))) == 3  # once
    library.delete(Selector(directory="/photos/2024-old"))
    assert sorted(ids(library)) == [1, 2, 4, 5, 6]


# -- ids and paths -----------------------------------------------------------------------------


def test_integer_and_uuid_point_ids_round_trip(store: VectorStore) -> None:
    key = str(uuid.uuid4())
    store.upsert([point(12, "/a/int.jpg"), point(key, "/a/uuid.jpg")])
    assert sorted(map(str, ids(store))) == sorted(["12", key])
    assert {r.id for r in store.retrieve([12, key.upper()])} == {12, key}
    assert store.count(Selector(point_ids=("12", key))) == 2  # digit strings are integer ids
    store.delete_ids([key, 999])  # a missing id is ignored
    assert ids(store) == [12]


def test_unicode_and_spaces_in_paths_are_matched_exactly(store: VectorStore) -> None:
    store.upsert(
        [
            point(1, "/Фото/été 2024/ä b.jpg"),
            point(2, "/Фото/été 2024 old/c.jpg"),
            point(3, "/Фото/été 2024/日本/d.jpg", legacy=True),
        ]
    )
    assert paths(store, Selector(directory="/Фото/été 2024")) == {
        "/Фото/été 2024/ä b.jpg",
        "/Фото/été 2024/日本/d.jpg",
    }
    assert store.facet(F_DIRS)["/Фото/été 2024 old"] == 1


# -- scrolling ---------------------------------------------------------------------------------


def test_scroll_returns_only_the_requested_payload_fields(library: VectorStore) -> None:
    (first, *_), *_ = library.scroll(Selector(point_ids=(2,)), fields=[F_PATH, F_CATEGORY_ID])
    assert first.payload == {F_PATH: "/photos/2024/trip/b.jpg", F_CATEGORY_ID: 3}
    assert first.vector is None
    (bare, *_), *_ = library.scroll(Selector(point_ids=(2,)), fields=[])
    assert bare.payload == {}
    (whole, *_), *_ = library.scroll(Selector(point_ids=(2,)), fields=None)
    assert whole.payload == LIBRARY[1].payload


def test_scroll_with_vectors_returns_the_stored_vectors(library: VectorStore) -> None:
    records = [r for page in library.scroll(with_vectors=True) for r in page]
    assert len(records) == len(LIBRARY)
    for record in records:
        assert record.vector == pytest.approx(vector_for(record.id), abs=1e-6)


def test_scroll_pages_are_ordered_by_id_integers_first(store: VectorStore) -> None:
    keys = sorted(str(uuid.uuid4()) for _ in range(3))
    store.upsert([point(k, f"/u/{k}.jpg") for k in keys])
    store.upsert([point(i, f"/n/{i}.jpg") for i in (30, 4, 17, 1)])
    pages = list(store.scroll(fields=[], batch_size=2))
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    assert [r.id for p in pages for r in p] == [1, 4, 17, 30, *keys]


def test_deleting_yielded_points_while_scrolling_visits_every_point_once(
    store: VectorStore,
) -> None:
    store.upsert([point(i, f"/d/{i}.jpg") for i in range(1, 51)])
    seen: list[int | str] = []
    for page in store.scroll(Selector(directory="/d"), fields=[], batch_size=7):
        seen += [r.id for r in page]
        store.delete_ids([r.id for r in page])
    assert seen == list(range(1, 51))
    assert store.count() == 0


# -- writing and deleting ----------------------------------------------------------------------


def test_delete_ids_deletes_many_ids_in_batches(
    store: VectorStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("vectorctl.core.store.common.ID_BATCH", 100)
    store.upsert([point(i, f"/many/{i}.jpg") for i in range(1, 1201)])
    store.delete_ids(list(range(1, 1101)))
    assert ids(store) == list(range(1101, 1201))


def test_delete_by_selector_removes_exactly_the_selected(library: VectorStore) -> None:
    selector = Selector(directory="/photos/2024", category_id=3)
    expected = library.count(selector)
    library.delete(selector)
    assert expected == 4
    assert sorted(ids(library)) == [3, 4, 7]
    assert library.count(selector) == 0


def test_set_payload_merges_into_the_existing_payload(library: VectorStore) -> None:
    library.set_payload([6, 7], {F_DIRS: ["/x"], "session_id": 9})
    (record,) = library.retrieve([6])
    assert record.payload[F_PATH] == "/photos/2024/legacy/f.jpg"
    assert record.payload[F_DIRS] == ["/x"]
    assert library.count(Selector(session_id=9)) == 2


def test_retrieve_returns_existing_points_with_whole_payload_and_optional_vector(
    library: VectorStore,
) -> None:
    records = {r.id: r for r in library.retrieve([1, 2, 404], with_vectors=True)}
    assert set(records) == {1, 2}
    assert records[1].payload == LIBRARY[0].payload
    assert records[1].vector == pytest.approx(vector_for(1), abs=1e-6)


# -- facets ------------------------------------------------------------------------------------


def test_facet_counts_points_under_every_ancestor_directory(library: VectorStore) -> None:
    assert library.facet(F_DIRS) == {
        "/photos": 4,
        "/photos/2024": 2,
        "/photos/2024/trip": 1,
        "/photos/2024-old": 1,
        "/photos/2023": 1,
        "/scans": 1,
    }
    assert library.facet(F_CATEGORY_ID) == {3: 2}


def test_facet_drops_values_whose_points_were_all_deleted(library: VectorStore) -> None:
    library.delete(Selector(directory="/photos/2024"))
    library.delete_ids([4])
    assert library.facet(F_DIRS) == {"/photos": 1, "/photos/2024-old": 1, "/scans": 1}
    assert library.facet(F_ASSET_ID) == {"3": 1, "5": 1, "7": 1}


def test_a_store_opened_in_one_thread_works_in_another(library: VectorStore) -> None:
    outcome: list[object] = []

    def work() -> None:
        library.delete_ids([1])
        outcome.append(library.count())

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert outcome == [len(LIBRARY) - 1]


# -- opening -----------------------------------------------------------------------------------


def test_open_store_chooses_the_engine_from_the_settings(store_engine: str, tmp_path: Path) -> None:
    settings = deployment_settings(tmp_path, store_engine)
    opened = open_store(settings)
    try:
        assert (opened.kind, opened.location) == (store_engine, settings.store_location)
    finally:
        opened.close()


def test_a_second_process_is_told_which_process_holds_the_store(
    store: VectorStore, store_engine: str, tmp_path: Path
) -> None:
    script = (
        "import sys\n"
        "from vectorctl.core.errors import ConnectionFailed\n"
        "from vectorctl.core.settings import load_settings\n"
        "from vectorctl.core.store import open_store\n"
        f"settings = load_settings({{{STORE_SETTING[store_engine]!r}: {store.location!r}}},"
        " env={}, use_profile=False)\n"
        "try:\n"
        "    open_store(settings)\n"
        "except ConnectionFailed as exc:\n"
        "    print(exc)\n"
        "    sys.exit(1)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""
    message = done.stdout.strip()
    assert "\n" not in message
    assert store.location in message
    assert f"pid {os.getpid()}" in message


def test_the_holder_line_names_the_command_without_its_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = [
        "/venv/bin/python",
        "/venv/bin/vectorctl",
        "--database-url",
        "postgresql://ops:pw123@db/images",
        "--qdrant-api-key",
        "k3y",
        "--token=t0k",
        "tui",
    ]
    monkeypatch.setattr(sys, "orig_argv", argv)
    line = describe_current_process()
    assert line.startswith(f"pid {os.getpid()} (vectorctl --database-url postgresql://ops:***@")
    assert "pw123" not in line and "k3y" not in line and "t0k" not in line
    assert "tui, since " in line


def test_a_second_open_in_the_same_process_fails_without_breaking_the_first(
    store: VectorStore, store_engine: str, tmp_path: Path
) -> None:
    with pytest.raises(ConnectionFailed, match=f"pid {os.getpid()}"):
        open_store(deployment_settings(tmp_path, store_engine))
    store.upsert([point(1, "/still/works.jpg")])
    assert store.count() == 1


def test_unreachable_server_fails_with_one_line_naming_the_url_but_not_the_key(
    tmp_path: Path,
) -> None:
    settings = deployment_settings(
        tmp_path, qdrant_url="http://127.0.0.1:9", qdrant_api_key="s3cret-key"
    )
    with pytest.raises(ConnectionFailed) as caught:
        open_store(settings)
    message = str(caught.value)
    assert "http://127.0.0.1:9" in message
    assert "s3cret-key" not in message
    assert "\n" not in message


def test_importing_core_store_does_not_import_an_engine() -> None:
    code = (
        "import sys, vectorctl.core.store\n"
        "print(sorted(m for m in ('qdrant_client', 'qdrant_edge') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


class _StubQdrant(BaseHTTPRequestHandler):
    """Answers like a Qdrant server of `version` that refuses every API key but the root's.

    No Qdrant server can run in the tests; this checks only the wiring around one: the
    version probe and how a refused key is reported.
    """

    version = "1.18.2"

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/":
            self._answer(200, {"title": "qdrant", "version": self.version})
        else:
            self._answer(403, {"status": {"error": "Invalid api-key"}})

    def do_POST(self) -> None:
        self._answer(403, {"status": {"error": "Invalid api-key"}})

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubQdrant)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("version", "prefix_match"), [("1.18.2", False), ("1.19.0", True)])
def test_server_older_than_1_19_is_served_without_prefix_match(
    stub_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    version: str,
    prefix_match: bool,
) -> None:
    monkeypatch.setattr(_StubQdrant, "version", version)
    settings = deployment_settings(tmp_path, qdrant_url=stub_server)
    store = open_store(settings)
    try:
        assert (store.kind, store.location) == ("server", stub_server)
        assert store.prefix_match is prefix_match  # type: ignore[attr-defined]
    finally:
        store.close()


def test_refused_api_key_fails_with_one_line_that_does_not_show_the_key(
    stub_server: str, tmp_path: Path
) -> None:
    settings = deployment_settings(tmp_path, qdrant_url=stub_server, qdrant_api_key="s3cret-key")
    store = open_store(settings)
    try:
        with pytest.raises(ConnectionFailed) as caught:
            store.count()
    finally:
        store.close()
    assert str(caught.value) == f"Qdrant server {stub_server} refused the API key (403)"
