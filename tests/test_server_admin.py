"""The Qdrant server's code path of `collections`, `indexes`, `aliases`, `snapshots` and
`similar`, against a stub HTTP server.

No Qdrant server can run in the tests. The stub answers the REST calls with documents shaped
like a server's (qdrant-client parses them with its own models, so a field the client needs
and the stub lacks fails the test) and records every request: the tests check what vectorctl
asks a server to do (request paths and bodies), which is the part of the server path that
can go wrong here. What a real server then does with them is checked against Qdrant's own
documentation and source, not here (see README, "Verified against a real server").
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.builders import deployment_settings
from vectorctl.core import collections as collection_admin
from vectorctl.core import snapshots
from vectorctl.core.store import open_store
from vectorctl.core.store.base import VectorStore

SNAPSHOT_BYTES = b"qdrant snapshot bytes " * 1000
SNAPSHOT_NAME = "image_assets-123-2026-01-02-03-04-05.snapshot"


@dataclass
class ServerState:
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, list[str]], bytes]] = field(default_factory=list)

    def calls(self, method: str, path_start: str) -> list[tuple[str, dict[str, list[str]], bytes]]:
        return [
            (p, q, b) for m, p, q, b in self.requests if m == method and p.startswith(path_start)
        ]


def collection_info(
    points: int, size: int, *, status: str = "green", **extra: Any
) -> dict[str, Any]:
    return {
        "status": status,
        "optimizer_status": "ok",
        "segments_count": 2,
        "points_count": points,
        "indexed_vectors_count": points,
        "config": {
            "params": {"vectors": {"size": size, "distance": "Cosine"}},
            "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000},
            "optimizer_config": {
                "deleted_threshold": 0.2,
                "vacuum_min_vector_number": 1000,
                "default_segment_number": 0,
                "flush_interval_sec": 5,
            },
            "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0},
        },
        "payload_schema": {},
        **extra,
    }


class StubServer(BaseHTTPRequestHandler):
    state: ServerState  # set per test (a subclass per server)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = parse_qs(parts.query)
        self.state.requests.append((method, parts.path, query, body))
        path = [p for p in parts.path.split("/") if p]
        state = self.state
        if path == []:
            return self._json({"title": "qdrant", "version": "1.19.0"}, wrap=False)
        if path == ["collections"] and method == "GET":
            return self._json({"collections": [{"name": n} for n in state.collections]})
        if path == ["aliases"]:
            aliases = [{"alias_name": a, "collection_name": c} for a, c in state.aliases.items()]
            return self._json({"aliases": aliases})
        if path == ["collections", "aliases"] and method == "POST":
            for action in json.loads(body)["actions"]:
                if "delete_alias" in action:
                    state.aliases.pop(action["delete_alias"]["alias_name"], None)
                if "create_alias" in action:
                    create = action["create_alias"]
                    state.aliases[create["alias_name"]] = create["collection_name"]
            return self._json(True)
        name = path[1] if len(path) > 1 else ""
        if name not in state.collections:
            return self._json({"error": f"Collection `{name}` doesn't exist!"}, status=404)
        info = state.collections[name]
        rest = path[2:]
        if rest == [] and method == "GET":
            return self._json(info)
        if rest == ["exists"]:
            return self._json({"exists": True})
        if rest == ["points", "count"]:
            return self._json({"count": info["points_count"]})
        if rest == ["index"] and method == "PUT":
            request = json.loads(body)
            schema = request["field_schema"]
            kind = schema if isinstance(schema, str) else schema["type"]
            entry: dict[str, Any] = {"data_type": kind, "points": info["points_count"]}
            if isinstance(schema, dict):
                entry["params"] = schema
            info["payload_schema"][request["field_name"]] = entry
            return self._json({"operation_id": 1, "status": "completed"})
        if rest == ["snapshots"] and method == "GET":
            return self._json(state.snapshots)
        if rest == ["snapshots"] and method == "POST":
            taken = {
                "name": f"{name}-{len(state.snapshots) + 1}.snapshot",
                "creation_time": "2026-01-02T03:04:05",
                "size": len(SNAPSHOT_BYTES),
                "checksum": hashlib.sha256(SNAPSHOT_BYTES).hexdigest(),
            }
            state.snapshots.append(taken)
            return self._json(taken)
        if rest[:1] == ["snapshots"] and len(rest) == 2 and rest[1] not in ("recover", "upload"):
            if method == "DELETE":
                state.snapshots = [s for s in state.snapshots if s["name"] != rest[1]]
                return self._json(True)
            return self._raw(SNAPSHOT_BYTES)
        if rest == ["snapshots", "recover"] and method == "PUT":
            return self._json(True)
        if rest == ["snapshots", "upload"] and method == "POST":
            return self._json(True)
        if rest == ["points", "query"]:
            points = [
                {"id": 2, "version": 1, "score": 0.9, "payload": {"path": "/p/near.jpg"}},
                {"id": 3, "version": 1, "score": 0.5, "payload": {"path": "/p/far.jpg"}},
            ]
            return self._json({"points": points})
        return self._json({"error": f"stub has no {method} {parts.path}"}, status=404)

    def _json(self, result: Any, *, status: int = 200, wrap: bool = True) -> None:
        if status != 200:
            document: Any = {"status": {"error": result["error"]}, "time": 0.0}
        else:
            document = {"result": result, "status": "ok", "time": 0.0} if wrap else result
        self._raw(json.dumps(document).encode(), status=status, kind="application/json")

    def _raw(
        self, data: bytes, *, status: int = 200, kind: str = "application/octet-stream"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    state = ServerState(
        collections={
            "image_assets": collection_info(5, 8, update_queue={"length": 3}),
            "image_assets_v2": collection_info(5, 8, status="yellow"),
            "faces": collection_info(2, 4),
        },
        aliases={"live": "image_assets"},
    )
    handler = type("Stub", (StubServer,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def store(server: tuple[str, ServerState], tmp_path: Path) -> Iterator[VectorStore]:
    opened = open_store(deployment_settings(tmp_path, qdrant_url=server[0], qdrant_api_key="k3y"))
    yield opened
    opened.close()


def test_collections_of_a_server_with_status_queue_and_aliases(
    store: VectorStore, server: tuple[str, ServerState]
) -> None:
    report = collection_admin.report(store)

    rows = {r.name: r for r in report.collections}
    assert [r.name for r in report.collections] == ["image_assets", "faces", "image_assets_v2"]
    assert (rows["image_assets"].points, rows["image_assets"].vector_size) == (5, 8)
    assert rows["image_assets"].pending_operations == 3
    assert rows["image_assets"].aliases == ["live"]
    assert rows["image_assets_v2"].status == "yellow"
    assert rows["faces"].vector_size == 4
    assert rows["image_assets"].disk_bytes is None  # a server does not say
    assert sorted(rows["image_assets"].missing_indexes) == sorted(
        ["asset_id", "dirs", "dir", "path", "category_id", "session_id"]
    )


def test_missing_indexes_are_created_with_the_prefix_option_on_path(
    store: VectorStore, server: tuple[str, ServerState]
) -> None:
    for spec in collection_admin.missing_specs(store):
        store.create_payload_index(spec.field, spec.kind, prefix=spec.prefix)

    bodies = {
        json.loads(b)["field_name"]: json.loads(b)["field_schema"]
        for _, _, b in server[1].calls("PUT", "/collections/image_assets/index")
    }
    assert bodies["path"] == {"type": "keyword", "prefix": True}
    assert bodies["asset_id"] == "keyword" and bodies["session_id"] == "integer"
    assert collection_admin.missing_specs(store) == []


def test_an_alias_is_switched_by_one_request_deleting_and_creating_it(
    store: VectorStore, server: tuple[str, ServerState]
) -> None:
    store.switch_alias("live", "image_assets_v2")

    (call,) = server[1].calls("POST", "/collections/aliases")
    assert json.loads(call[2])["actions"] == [
        {"delete_alias": {"alias_name": "live"}},
        {"create_alias": {"collection_name": "image_assets_v2", "alias_name": "live"}},
    ]
    assert store.aliases() == {"live": "image_assets_v2"}


def test_snapshots_are_listed_created_and_deleted_through_the_server(
    store: VectorStore, server: tuple[str, ServerState], tmp_path: Path
) -> None:
    taken = snapshots.create(store, tmp_path)

    assert taken.where == "server" and taken.created_at == "2026-01-02T03:04:05+00:00"
    assert [r.name for r in snapshots.list_snapshots(store, tmp_path)] == [taken.name]
    assert server[1].calls("POST", "/collections/image_assets/snapshots")
    store.delete_server_snapshot(taken.name)
    (call,) = server[1].calls("DELETE", f"/collections/image_assets/snapshots/{taken.name}")
    assert call[1]["wait"] == ["true"]
    assert snapshots.list_snapshots(store, tmp_path) == []


def test_a_download_streams_the_snapshot_and_checks_its_checksum(
    store: VectorStore, server: tuple[str, ServerState], tmp_path: Path
) -> None:
    taken = snapshots.create(store, tmp_path)

    path = snapshots.download(store, tmp_path, taken.name, tmp_path)

    assert path.read_bytes() == SNAPSHOT_BYTES
    server[1].snapshots[0]["checksum"] = "0" * 64
    with pytest.raises(Exception, match="arrived damaged"):
        snapshots.download(store, tmp_path, taken.name, tmp_path / "again.snapshot")
    assert not (tmp_path / "again.snapshot").exists()


def test_a_restore_asks_the_server_to_recover_its_own_snapshot_url_with_the_key(
    store: VectorStore, server: tuple[str, ServerState], tmp_path: Path
) -> None:
    taken = snapshots.create(store, tmp_path)

    store.recover_server_snapshot(taken.name, checksum=taken.checksum)

    (call,) = server[1].calls("PUT", "/collections/image_assets/snapshots/recover")
    body = json.loads(call[2])
    assert body == {
        "location": f"{server[0]}/collections/image_assets/snapshots/{taken.name}",
        "priority": "snapshot",
        "checksum": taken.checksum,
        "api_key": "k3y",
    }
    assert call[1]["wait"] == ["true"]


def test_a_restore_from_a_file_uploads_it_as_multipart(
    store: VectorStore, server: tuple[str, ServerState], tmp_path: Path
) -> None:
    file = tmp_path / "copy.snapshot"
    file.write_bytes(SNAPSHOT_BYTES)

    store.upload_server_snapshot(file, checksum=None)

    (call,) = server[1].calls("POST", "/collections/image_assets/snapshots/upload")
    assert call[1]["priority"] == ["snapshot"] and call[1]["wait"] == ["true"]
    assert b'name="snapshot"' in call[2] and SNAPSHOT_BYTES in call[2]


def test_search_asks_the_server_for_the_nearest_points(
    store: VectorStore, server: tuple[str, ServerState]
) -> None:
    hits = store.search([0.1] * 8, limit=2)

    (call,) = server[1].calls("POST", "/collections/image_assets/points/query")
    body = json.loads(call[2])
    assert body["query"] == {"nearest": [0.1] * 8} and body["limit"] == 2
    assert [(h.id, h.payload["path"]) for h in hits] == [(2, "/p/near.jpg"), (3, "/p/far.jpg")]


def test_a_server_has_no_snapshot_file_to_write(store: VectorStore) -> None:
    with pytest.raises(Exception, match="keeps its own snapshots"):
        store.write_snapshot(BytesIO())


def test_the_command_line_switches_a_servers_alias_audited(
    server: tuple[str, ServerState], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from tests.commands import doc
    from tests.conftest import upgraded
    from vectorctl.tui.cli import cli

    monkeypatch.setenv("VECTORCTL_PROFILE", "")
    options = [
        "--qdrant-url",
        server[0],
        "--database-url",
        upgraded(f"sqlite:///{tmp_path / 'vectorctl.sqlite3'}"),
        "--data-dir",
        str(tmp_path),
        "--vector-size",
        "8",
    ]
    runner = CliRunner()

    listed = runner.invoke(cli, [*options, "collections", "--json"])
    switched = runner.invoke(
        cli, [*options, "aliases", "switch", "live", "image_assets_v2", "--yes", "--json"]
    )
    audit = runner.invoke(cli, [*options, "audit", "--json"])

    assert listed.exit_code == 0, listed.output
    assert doc(listed)["collections"][0]["name"] == "image_assets"
    assert switched.exit_code == 0, switched.output
    assert server[1].aliases == {"live": "image_assets_v2"}
    entry = doc(audit)[0]
    assert (entry["deletion_type"], entry["status"]) == ("ALIAS_SWITCH", "completed")
    assert entry["metadata"]["deployment"]["store_kind"] == "server"
