"""Shell completion of what is cheap to know: directories and ids, read from the database
only (the vector store, which an embedded engine locks, is never opened for a Tab).

Enabled with click's mechanism, e.g. for bash:
    eval "$(_VECTORCTL_COMPLETE=bash_source vectorctl)"
Any failure (no database yet, a wrong URL) completes nothing rather than print an error
into the operator's command line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem

LIMIT = 100  # more than a screen of candidates helps nobody; type more first


def _candidates(ctx: click.Context, kind: str, incomplete: str) -> list[CompletionItem]:
    from vectorctl.core.service import VectorService
    from vectorctl.core.settings import load_settings

    root = ctx.find_root()
    options: dict[str, Any] = dict(root.params)
    profile = options.pop("profile", None)
    for name in ("verbose", "quiet"):
        options.pop(name, None)
    try:
        settings = load_settings(options, profile=Path(profile) if profile else None)
        found = VectorService(settings).candidates(kind, incomplete, limit=LIMIT)
    except Exception:
        return []
    return [CompletionItem(c) for c in found]


def directories(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Directories holding assets, at any depth, that start with what was typed."""
    return _candidates(ctx, "dir", incomplete)


def _ids(kind: str) -> Callable[..., list[CompletionItem]]:
    def complete(
        ctx: click.Context, _param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        return _candidates(ctx, kind, incomplete)

    return complete


sessions = _ids("session")
categories = _ids("category")
audit_entries = _ids("audit")


def target_values(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The VALUE of `preview`/`delete KIND VALUE`: by its kind (assets are too many)."""
    kind = ctx.params.get("kind")
    complete = {"dir": directories, "session": sessions, "category": categories}.get(str(kind))
    return complete(ctx, param, incomplete) if complete else []
