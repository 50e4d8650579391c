"""`vectorctl collections`, `indexes`, `aliases`, `similar` and `export`, run for real on
Qdrant Edge and qdrant-client local mode (the server's wiring: `tests/test_server_admin.py`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builders import VECTOR_SIZE, index_assets, tool_payload, vector_for
from tests.commands import Run, audit_entry, doc
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings
from vectorctl.core.store.base import Record

LIBRARY = [
    "/photos/2024/a.jpg",
    "/photos/2024/b.jpg",
    "/photos/2024/trip/c.jpg",
    "/photos/2024-old/d.jpg",
    "/scans/e.jpg",
]


@pytest.fixture
def library(service: VectorService) -> dict[str, int]:
    """LIBRARY in image_assets, and a `faces` collection of another size beside it."""
    ids = index_assets(service, LIBRARY)
    faces = service.store.open_collection("faces")
    try:
        faces.ensure_collection(4, "dot")
        faces.upsert(
            [Record(f"6f1c1a5e-0000-4000-8000-00000000000{i}", {}, [1.0] * 4) for i in (1, 2)]
        )
    finally:
        faces.close()
    service.close()
    return ids


# -- collections ----------------------------------------------------------------------------


def test_collections_lists_every_collection_with_its_figures(
    run: Run, library: dict[str, int], store_engine: str
) -> None:
    result = run("collections", "--json")

    assert result.exit_code == 0, result.output
    report = doc(result)
    assert report["store"] == store_engine and report["active"] == "image_assets"
    rows = {r["name"]: r for r in report["collections"]}
    assert list(rows) == ["image_assets", "faces"]  # the active one first
    images, faces = rows["image_assets"], rows["faces"]
    assert (images["active"], images["points"], images["vector_size"], images["distance"]) == (
        True,
        len(LIBRARY),
        VECTOR_SIZE,
        "cosine",
    )
    assert (faces["active"], faces["points"], faces["vector_size"], faces["distance"]) == (
        False,
        2,
        4,
        "dot",
    )
    assert images["status"] == faces["status"] == "green"
    assert images["segments"] >= 1 and images["disk_bytes"] > 0
    if store_engine == "edge":
        # Every index of vectorctl's Edge layout, which has no `path` prefix index.
        assert {i["field"] for i in images["indexes"] if i["kind"]} == {
            "asset_id",
            "dirs",
            "dir",
            "category_id",
            "session_id",
        }
        assert images["missing_indexes"] == []
    else:  # local mode has no payload indexes: none are reported missing either
        assert images["indexes_supported"] is False and images["missing_indexes"] == []


def test_collections_shows_a_collection_that_cannot_be_opened_in_its_own_row(
    run: Run, library: dict[str, int], settings: Settings
) -> None:
    if not settings.qdrant_edge:
        pytest.skip("only an Edge directory can hold a folder that is not a collection")
    junk = Path(settings.qdrant_edge) / "not-a-shard"
    junk.mkdir()
    (junk / "readme.txt").write_text("someone's notes")

    result = run("collections", "--json")

    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in doc(result)["collections"]}
    assert rows["image_assets"]["points"] == len(LIBRARY)
    assert rows["not-a-shard"]["error"] and rows["not-a-shard"]["status"] == "grey"


# -- payload indexes ------------------------------------------------------------------------


@pytest.fixture
def bare_edge_collection(settings: Settings) -> Settings:
    """An Edge collection another program made: the points, none of vectorctl's indexes."""
    if not settings.qdrant_edge:
        pytest.skip("payload indexes: Qdrant Edge here (local mode has none)")
    import qdrant_edge as qe

    from tests.conftest import upgraded

    upgraded(settings.database_url)
    shard = qe.EdgeShard.create(
        str(Path(settings.qdrant_edge) / "image_assets"),
        qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=VECTOR_SIZE, distance=qe.Distance.Cosine)),
    )
    shard.update(
        qe.UpdateOperation.upsert_points(
            [qe.Point(i, vector_for(i), tool_payload(i, f"/x/{i}.jpg")) for i in (1, 2, 3)]
        )
    )
    shard.close()
    return settings


def test_indexes_lists_vectorctls_missing_indexes_and_creates_them_audited(
    run: Run, bare_edge_collection: Settings
) -> None:
    listed = doc(run("indexes", "--json"))
    # vectorctl's Edge layout: every index but a `path` prefix index (directories find legacy
    # points through the null index of `dirs`), which would be the largest by far.
    assert sorted(listed["missing_indexes"]) == sorted(
        ["asset_id", "dirs", "dir", "category_id", "session_id"]
    )
    assert all(i["needed_for"] for i in listed["indexes"])

    created = run("indexes", "create", "--yes", "--reason", "set up", "--json")

    assert created.exit_code == 0, created.output
    result = doc(created)
    assert sorted(result["created"]) == sorted(listed["missing_indexes"])
    after = doc(run("indexes", "--json"))
    assert after["missing_indexes"] == []
    assert {i["field"]: i["points"] for i in after["indexes"]}["asset_id"] == 3
    assert "path" not in {i["field"] for i in after["indexes"]}
    entry = audit_entry(bare_edge_collection, result["log_id"])
    assert (entry["deletion_type"], entry["status"], entry["vector_count"]) == (
        "PAYLOAD_INDEX",
        "completed",
        5,
    )
    assert entry["deletion_reason"] == "set up"


def test_indexes_create_from_a_script_without_yes_creates_nothing(
    run: Run, bare_edge_collection: Settings
) -> None:
    refused = run("indexes", "create")

    assert refused.exit_code == 1
    assert "not confirmed" in refused.stderr
    assert len(doc(run("indexes", "--json"))["missing_indexes"]) == 5


def test_indexes_create_in_local_mode_says_it_has_none(
    run: Run, library: dict[str, int], store_engine: str
) -> None:
    if store_engine != "local":
        pytest.skip("local mode only")
    assert doc(run("indexes", "--json"))["indexes_supported"] is False
    refused = run("indexes", "create", "--yes")
    assert refused.exit_code == 2
    assert "no payload indexes" in refused.stderr


# -- aliases --------------------------------------------------------------------------------


@pytest.fixture
def blue_green(service: VectorService) -> VectorService:
    """image_assets (blue, live) and image_assets_v2 (green, the rebuilt collection)."""
    index_assets(service, LIBRARY[:2])
    green = service.store.open_collection("image_assets_v2")
    try:
        green.ensure_collection(VECTOR_SIZE)
        green.upsert([Record(1, tool_payload(1, "/photos/2024/a.jpg"), vector_for("v2"))])
    finally:
        green.close()
    return service


def test_alias_switch_points_the_alias_at_the_new_collection_in_one_audited_step(
    run: Run, blue_green: VectorService, settings: Settings, store_engine: str
) -> None:
    if store_engine != "local":
        pytest.skip("aliases: local mode here (Qdrant Edge has none)")
    blue_green.store.switch_alias("live", "image_assets")
    blue_green.close()

    switched = run("aliases", "switch", "live", "image_assets_v2", "--yes", "--json")

    assert switched.exit_code == 0, switched.output
    result = doc(switched)
    assert (result["previous"], result["collection"]) == ("image_assets", "image_assets_v2")
    listed = doc(run("aliases", "--json"))
    assert listed["aliases"] == [{"alias": "live", "collection": "image_assets_v2"}]
    entry = audit_entry(settings, result["log_id"])
    assert (entry["deletion_type"], entry["status"], entry["vector_count"]) == (
        "ALIAS_SWITCH",
        "completed",
        1,
    )
    assert entry["deletion_target"] == "alias live: image_assets -> image_assets_v2"
    rows = {r["name"]: r for r in doc(run("collections", "--json"))["collections"]}
    assert rows["image_assets_v2"]["aliases"] == ["live"] and rows["image_assets"]["aliases"] == []


def test_alias_switch_to_vectors_of_another_size_needs_allow_size_change(
    run: Run, blue_green: VectorService, store_engine: str
) -> None:
    if store_engine != "local":
        pytest.skip("aliases: local mode here (Qdrant Edge has none)")
    bigger = blue_green.store.open_collection("image_assets_768")
    bigger.ensure_collection(VECTOR_SIZE * 2)
    blue_green.store.switch_alias("live", "image_assets")
    blue_green.close()

    refused = run("aliases", "switch", "live", "image_assets_768", "--yes")

    assert refused.exit_code == 2
    assert "--allow-size-change" in refused.stderr
    assert doc(run("aliases", "--json"))["aliases"][0]["collection"] == "image_assets"
    allowed = run("aliases", "switch", "live", "image_assets_768", "--yes", "--allow-size-change")
    assert allowed.exit_code == 0, allowed.output


def test_alias_switch_refuses_a_collection_name_and_an_unknown_target(
    run: Run, blue_green: VectorService, store_engine: str
) -> None:
    if store_engine != "local":
        pytest.skip("aliases: local mode here (Qdrant Edge has none)")
    blue_green.close()
    as_alias = run("aliases", "switch", "image_assets", "image_assets_v2", "--yes")
    assert as_alias.exit_code == 2 and "is a collection, not an alias" in as_alias.stderr
    unknown = run("aliases", "switch", "live", "nowhere", "--yes")
    assert unknown.exit_code == 2 and "no collection 'nowhere'" in unknown.stderr
    assert doc(run("aliases", "--json"))["aliases"] == []


def test_aliases_on_qdrant_edge_say_it_has_none(
    run: Run, blue_green: VectorService, store_engine: str
) -> None:
    if store_engine != "edge":
        pytest.skip("Qdrant Edge only")
    blue_green.close()
    assert doc(run("aliases", "--json"))["supported"] is False
    refused = run("aliases", "switch", "live", "image_assets_v2", "--yes")
    assert refused.exit_code == 2
    assert "has no collection aliases" in refused.stderr


# -- similar --------------------------------------------------------------------------------


def test_similar_lists_the_nearest_points_with_paths_and_scores_without_the_point_itself(
    run: Run, service: VectorService
) -> None:
    base = vector_for("base")
    near = [v + 0.01 for v in base]
    far = [-v for v in base]
    service.store.upsert(
        [
            Record(1, tool_payload(1, "/p/query.jpg"), base),
            Record(2, tool_payload(2, "/p/near.jpg"), near),
            Record(3, tool_payload(3, "/p/far.jpg"), far),
            Record(4, tool_payload(4, "/p/[draft]/also-near.jpg"), [v + 0.05 for v in base]),
        ]
    )
    service.close()

    result = run("similar", "1", "--limit", "2", "--json")

    assert result.exit_code == 0, result.output
    found = doc(result)
    assert (found["point_id"], found["path"]) == (1, "/p/query.jpg")
    assert [n["id"] for n in found["neighbours"]] == [2, 4]
    assert [n["path"] for n in found["neighbours"]] == ["/p/near.jpg", "/p/[draft]/also-near.jpg"]
    scores = [n["score"] for n in found["neighbours"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0.99
    text = run("similar", "1", "--limit", "3")
    assert "/p/[draft]/also-near.jpg" in text.stdout  # literal, not markup
    assert text.stdout.index("near.jpg") < text.stdout.index("far.jpg")


def test_similar_of_a_missing_or_malformed_point_id_exits_2(
    run: Run, library: dict[str, int]
) -> None:
    missing = run("similar", "999")
    assert missing.exit_code == 2 and "has no point 999" in missing.stderr
    malformed = run("similar", "1_0")
    assert malformed.exit_code == 2 and "not a point id" in malformed.stderr


# -- export ---------------------------------------------------------------------------------


def test_export_writes_every_point_as_one_json_line_with_its_vector(
    run: Run, library: dict[str, int], tmp_path: Path
) -> None:
    out = tmp_path / "points.jsonl"

    result = run("export", "--vectors", "--output", str(out))

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(p["id"] for p in lines) == sorted(library.values())
    for point in lines:
        assert point["payload"]["path"] in LIBRARY
        assert point["vector"] == pytest.approx(vector_for(point["id"]), abs=1e-6)
    assert f"exported {len(LIBRARY)} points" in result.stderr
    assert not list(tmp_path.glob("*.partial"))


def test_export_under_a_directory_keeps_only_its_points_and_omits_vectors_by_default(
    run: Run, library: dict[str, int]
) -> None:
    result = run("export", "--under", "/photos/2024")

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(p["payload"]["path"] for p in lines) == [
        "/photos/2024/a.jpg",
        "/photos/2024/b.jpg",
        "/photos/2024/trip/c.jpg",
    ]
    assert all("vector" not in p for p in lines)


def test_export_to_parquet_without_pyarrow_says_so_and_writes_nothing(
    run: Run, library: dict[str, int], tmp_path: Path
) -> None:
    out = tmp_path / "points.parquet"
    result = run("export", "--format", "parquet", "--output", str(out))
    assert result.exit_code == 2
    assert "pyarrow" in result.stderr
    assert not out.exists()


def test_export_never_replaces_an_existing_file(
    run: Run, library: dict[str, int], tmp_path: Path
) -> None:
    out = tmp_path / "points.jsonl"
    out.write_text("keep me")
    result = run("export", "--output", str(out))
    assert result.exit_code == 2
    assert out.read_text() == "keep me"
