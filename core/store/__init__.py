"""Vector stores: one interface (`core.store.base`), three engines, chosen by the settings.

Importing this package is cheap: an engine's library (qdrant-client, qdrant_edge) is
imported only when a store of that kind is opened, and its types never leave the engine's
module.
"""

from __future__ import annotations

from vectorctl.core.settings import Settings
from vectorctl.core.store.base import VectorStore


def open_store(settings: Settings) -> VectorStore:
    """Open the configured store: a Qdrant server, a qdrant-client local directory, or a
    Qdrant Edge directory (the default).

    Raises ConnectionFailed with one line when the server cannot be reached or another
    process holds the embedded directory (naming that process).
    """
    kind = settings.store_kind
    if kind == "server":
        from vectorctl.core.store.qdrant_client_store import connect_server

        assert settings.qdrant_url is not None
        return connect_server(settings.qdrant_url, settings.qdrant_api_key, settings.collection)
    if kind == "local":
        from vectorctl.core.store.qdrant_client_store import open_local

        assert settings.qdrant_path is not None
        return open_local(settings.qdrant_path, settings.collection)
    from vectorctl.core.store.edge_store import EdgeStore

    assert settings.qdrant_edge is not None
    return EdgeStore(settings.qdrant_edge, settings.collection)
