"""Commands that look after the database schema and the vector store itself, not the library
in it: schema upgrade, store chores, collections, payload indexes, aliases and snapshots."""

from __future__ import annotations

import os
from pathlib import Path

import click

from vectorctl.core.errors import NotFoundError, Unsupported, ValidationError
from vectorctl.core.settings import with_overrides
from vectorctl.tui.cli import render
from vectorctl.tui.cli.asking import collection_name, confirm
from vectorctl.tui.cli.root import State, cli, command, json_option, pass_state
from vectorctl.tui.output import emit_json, progress_bars


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@json_option
@pass_state
@command
def db_upgrade(state: State, as_json: bool) -> None:
    """Bring an existing (service) database up to date in place; safe to repeat."""
    changes = state.service.upgrade_schema()
    if as_json:
        emit_json(
            {"changes": changes, "database_url": state.service.settings.masked_database_url()}
        )
    else:
        render.schema_upgraded(changes)


@cli.group()
def store() -> None:
    """Vector-store chores: backfill legacy points, optimize, copy to another engine."""


@store.command("backfill")
@json_option
@pass_state
@command
def store_backfill(state: State, as_json: bool) -> None:
    """Give legacy points their ancestor directories (fast statistics and deletes)."""
    state.service.require_writable("backfill the collection")
    with progress_bars(not as_json) as (progress, cancel):
        result = state.service.backfill(progress=progress, cancel=cancel)
    if as_json:
        emit_json(result.as_dict())
    else:
        render.backfilled(result)


@store.command("optimize")
@json_option
@pass_state
@command
def store_optimize(state: State, as_json: bool) -> None:
    """Compact deleted versions and rebuild segments, so the store opens and answers fast.

    Changes no point. Ctrl-C stops it with every point in place (the engine reports no
    progress of its own: the bar shows the seconds it has been working).
    """
    state.service.require_writable("optimize the store")
    with progress_bars(not as_json) as (progress, cancel):
        result = state.service.optimize(progress=progress, cancel=cancel)
    if as_json:
        emit_json(result.as_dict())
    else:
        render.optimized(result)


@store.command("migrate")
@click.option("--to-edge", help="Target Qdrant Edge directory.")
@click.option("--to-path", help="Target qdrant-client local-mode directory.")
@click.option(
    "--to-url", help="Target Qdrant server URL (API key: VECTORCTL_TARGET_QDRANT_API_KEY)."
)
@click.option("--to-collection", help="Target collection name (default: the same).")
@json_option
@pass_state
@command
def store_migrate(
    state: State,
    to_edge: str | None,
    to_path: str | None,
    to_url: str | None,
    to_collection: str | None,
    as_json: bool,
) -> None:
    """Copy the collection (ids, vectors, payloads) into another store."""
    chosen = [v for v in (to_edge, to_path, to_url) if v]
    if len(chosen) != 1:
        raise ValidationError("name exactly one target: --to-edge, --to-path or --to-url")
    source = state.service.settings
    target = with_overrides(
        source,
        qdrant_edge=to_edge,
        qdrant_path=to_path,
        qdrant_url=to_url,
        qdrant_api_key=os.environ.get("VECTORCTL_TARGET_QDRANT_API_KEY") if to_url else None,
        collection=to_collection or source.collection,
    )
    with progress_bars(not as_json) as (progress, cancel):
        result = state.service.copy_to(target, progress=progress, cancel=cancel)
    if as_json:
        emit_json(result.as_dict())
    else:
        render.migrated(result)


@cli.command("collections")
@json_option
@pass_state
@command
def collections_command(state: State, as_json: bool) -> None:
    """Every collection of the store: points, vectors, status, segments, payload indexes,
    aliases, disk size (where the engine says)."""
    report = state.service.collections()
    if as_json:
        emit_json(report.as_dict())
    else:
        render.collections(report)


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
@command
def indexes(ctx: click.Context, as_json: bool) -> None:
    """The active collection's payload indexes: which vectorctl needs, which are missing."""
    if ctx.invoked_subcommand is not None:
        return
    state: State = ctx.obj
    row = state.service.payload_indexes()
    if as_json:
        emit_json(row.as_dict())
    else:
        render.indexes(row)


@indexes.command("create")
@click.option("--reason", help="Why, for the audit log.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_state
@command
def indexes_create(state: State, reason: str | None, yes: bool, as_json: bool) -> None:
    """Create the payload indexes vectorctl needs and the collection lacks (audited)."""
    service = state.service
    service.require_writable("create payload indexes")
    row = service.payload_indexes()
    if not row.indexes_supported:
        raise Unsupported(
            "qdrant-client local mode has no payload indexes: filters and facets scan"
        )
    missing = row.missing_indexes
    if not missing:
        if as_json:
            emit_json({"created": [], "log_id": None})
        else:
            render.no_index_missing()
        return
    if not as_json:
        render.indexes_to_create(missing, service.settings.collection)
    confirm(
        f"Create {len(missing)} payload indexes (the server builds them in the background)?",
        yes,
        as_json,
        {"missing": missing},
        verb="created",
    )
    with progress_bars(not as_json) as (progress, cancel):
        result = service.create_missing_indexes(
            expect=missing, reason=reason, progress=progress, cancel=cancel
        )
    if as_json:
        emit_json(result.as_dict())
    else:
        render.indexes_created(result)


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
@command
def aliases(ctx: click.Context, as_json: bool) -> None:
    """Collection aliases (Qdrant server and local mode; Qdrant Edge has none)."""
    if ctx.invoked_subcommand is not None:
        return
    state: State = ctx.obj
    report = state.service.collections()
    if as_json:
        emit_json(
            {
                "supported": report.aliases_supported,
                "aliases": [
                    {"alias": a, "collection": c} for a, c in sorted(report.aliases.items())
                ],
            }
        )
    else:
        render.aliases(report)


@aliases.command("switch")
@click.argument("alias")
@click.argument("collection")
@click.option("--reason", help="Why, for the audit log.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--allow-size-change", is_flag=True, help="Switch even when the vector sizes differ.")
@json_option
@pass_state
@command
def aliases_switch(
    state: State,
    alias: str,
    collection: str,
    reason: str | None,
    yes: bool,
    allow_size_change: bool,
    as_json: bool,
) -> None:
    """Point ALIAS at COLLECTION in one atomic step (audited): the blue/green switch after
    `retrain --into COLLECTION` and a check of it."""
    service = state.service
    service.require_writable(f"switch alias {alias}")
    preview = service.alias_preview(alias, collection)
    if not as_json:
        render.alias_preview(alias, collection, preview)
    confirm(
        f"Switch alias {alias} to {collection}?",
        yes,
        as_json,
        {"preview": preview.as_dict()},
        verb="switched",
    )
    result = service.switch_alias(
        alias,
        collection,
        expect_from=preview.previous or "",
        allow_size_change=allow_size_change,
        reason=reason,
    )
    if as_json:
        emit_json(result.as_dict())
    else:
        render.alias_switched(result, alias, collection)


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
@command
def snapshots(ctx: click.Context, as_json: bool) -> None:
    """Snapshots of the whole collection: a server's own, or vectorctl's snapshot files of
    an embedded store (in the data directory)."""
    if ctx.invoked_subcommand is not None:
        return
    state: State = ctx.obj
    rows = state.service.snapshots()
    if as_json:
        emit_json([r.as_dict() for r in rows])
    else:
        render.snapshots(rows)


@snapshots.command("create")
@json_option
@pass_state
@command
def snapshots_create(state: State, as_json: bool) -> None:
    """Take a snapshot of the collection now."""
    with progress_bars(not as_json) as (progress, _cancel):
        row = state.service.create_snapshot(progress=progress)
    if as_json:
        emit_json(row.as_dict())
    else:
        render.snapshot_taken(row)


@snapshots.command("download")
@click.argument("name")
@click.option(
    "--to",
    "destination",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="File or folder.",
)
@json_option
@pass_state
@command
def snapshots_download(state: State, name: str, destination: Path, as_json: bool) -> None:
    """Copy a snapshot here (checked against its SHA-256)."""
    with progress_bars(not as_json) as (progress, _cancel):
        path = state.service.download_snapshot(name, destination, progress=progress)
    if as_json:
        emit_json({"snapshot": name, "path": str(path), "size": path.stat().st_size})
    else:
        render.snapshot_downloaded(name, path)


@snapshots.command("restore")
@click.argument("name", required=False)
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path),
    help="Restore a snapshot file from here instead.",
)
@click.option("--confirm", "typed", help="The collection's name, typed to confirm.")
@click.option("--reason", help="Why, for the audit log.")
@click.option("--no-backup", is_flag=True, help="Skip the points-level backup of what is replaced.")
@json_option
@pass_state
@command
def snapshots_restore(
    state: State,
    name: str | None,
    file: Path | None,
    typed: str | None,
    reason: str | None,
    no_backup: bool,
    as_json: bool,
) -> None:
    """Replace the collection with a snapshot (audited). Confirmed by typing the
    collection's name (--confirm NAME). The current state is snapshotted first, and archived
    point by point when small enough (up to 100,000 points), so it can be put back."""
    service = state.service
    collection = service.settings.collection
    service.require_writable(f"restore collection {collection}")
    if typed is None:
        typed = collection_name(service, f"{name or file}", as_json)
    with progress_bars(not as_json) as (progress, cancel):
        result = service.restore_snapshot(
            name,
            file=file,
            confirm=typed or "",
            reason=reason,
            backup=not no_backup,
            progress=progress,
            cancel=cancel,
        )
    if as_json:
        emit_json(result.as_dict())
    else:
        render.snapshot_restored(result, collection)


@snapshots.command("delete")
@click.argument("name")
@click.option("--reason", help="Why, for the audit log.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_state
@command
def snapshots_delete(state: State, name: str, reason: str | None, yes: bool, as_json: bool) -> None:
    """Delete a snapshot for good (audited; it cannot be undone)."""
    service = state.service
    service.require_writable(f"delete snapshot {name}")
    row = next((r for r in service.snapshots() if r.name == name), None)
    if row is None:
        raise NotFoundError(f"collection {service.settings.collection!r} has no snapshot {name!r}")
    confirm(f"Delete snapshot {name} for good?", yes, as_json, {"snapshot": row.as_dict()})
    result = service.delete_snapshot(name, reason=reason)
    if as_json:
        emit_json(result.as_dict())
    else:
        render.snapshot_deleted(name, result)
