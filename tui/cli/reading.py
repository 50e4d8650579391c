"""Commands that only read: what the library holds, its sessions and jobs, what a delete
would select, the audit log, nearest neighbours and exports. None of them changes a point,
so none asks before it runs."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from vectorctl.core.errors import ValidationError
from vectorctl.core.targets import AUDIT_TYPES, Target
from vectorctl.core.validation import check_export_format
from vectorctl.tui import completion
from vectorctl.tui.cli import render
from vectorctl.tui.cli.root import (
    TARGET_KINDS,
    AnyCase,
    PlainId,
    State,
    cli,
    command,
    examples,
    json_option,
    pass_state,
)
from vectorctl.tui.output import emit_json, progress_bars

JOB_STATUSES = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]
AUDIT_STATUSES = ["completed", "started", "interrupted", "failed", "partial", "cancelled"]


@cli.command()
@json_option
@pass_state
@command
def info(state: State, as_json: bool) -> None:
    """Resolved configuration (secrets masked), reachability and totals."""
    result = state.service.info()
    if as_json:
        emit_json(result.as_dict())
    else:
        render.info(result)
    if not (result.database_ok and result.store_ok):
        sys.exit(1)


@cli.command(
    epilog=examples(
        "vectorctl stats --under /photos --depth 1",
        "vectorctl stats --json | jq '.[] | select(.missing_count > 0)'",
    )
)
@click.option(
    "--under", help="Only this directory and below.", shell_complete=completion.directories
)
@click.option("--depth", type=int, help="Levels below --under (or the root) to list.")
@json_option
@pass_state
@command
def stats(state: State, under: str | None, depth: int | None, as_json: bool) -> None:
    """Vectors, assets and sessions per directory."""
    with progress_bars(not as_json) as (progress, cancel):
        rows = state.service.directory_stats(
            under=under, max_depth=depth, progress=progress, cancel=cancel
        )
    if as_json:
        emit_json([r.as_dict() for r in rows])
    else:
        render.directory_stats(rows)


@cli.command()
@click.option(
    "--under",
    help="Only sessions for this directory or below.",
    shell_complete=completion.directories,
)
@json_option
@pass_state
@command
def sessions(state: State, under: str | None, as_json: bool) -> None:
    """Training sessions, newest first."""
    rows = state.service.sessions(directory=under)
    if as_json:
        emit_json([r.as_dict() for r in rows])
    else:
        render.sessions(rows)


@cli.command()
@click.argument("session_id", type=PlainId("session"), shell_complete=completion.sessions)
@click.option("--status", type=AnyCase(JOB_STATUSES))
@json_option
@pass_state
@command
def jobs(state: State, session_id: int, status: str | None, as_json: bool) -> None:
    """The jobs of one training session, failed first (with their errors)."""
    rows = state.service.session_jobs(session_id, status=status)
    if as_json:
        emit_json([r.as_dict() for r in rows])
    else:
        render.jobs(rows)


@cli.command(
    epilog=examples("vectorctl preview dir /photos/2024", "vectorctl preview session 12 --json")
)
@click.argument("kind", type=TARGET_KINDS)
@click.argument("value", shell_complete=completion.target_values)
@json_option
@pass_state
@command
def preview(state: State, kind: str, value: str, as_json: bool) -> None:
    """Exact count and a sample of what a delete would remove (changes nothing)."""
    target = Target.parse(kind, value)
    result = state.service.preview(target)
    if as_json:
        emit_json(result.as_dict())
    else:
        render.preview(result, target)


def _iso(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{value!r} is not an ISO date or time (e.g. 2024-06-01)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@cli.command(
    epilog=examples(
        "vectorctl audit --type RETRAIN --since 2024-06-01",
        "vectorctl audit --status failed --json",
    )
)
@click.option("--type", "deletion_type", type=AnyCase(AUDIT_TYPES))
@click.option("--status", type=AnyCase(AUDIT_STATUSES))
@click.option("--since", help="ISO date/time (UTC unless given).")
@click.option("--until", help="ISO date/time (UTC unless given).")
@click.option("--text", help="Text in the target or the reason.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@json_option
@pass_state
@command
def audit(
    state: State,
    deletion_type: str | None,
    status: str | None,
    since: str | None,
    until: str | None,
    text: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """The audit log of every deletion and restore."""
    entries = state.service.audit_log(
        deletion_type=deletion_type.upper() if deletion_type else None,
        status=status.lower() if status else None,
        since=_iso(since),
        until=_iso(until),
        text=text,
        limit=limit,
    )
    if as_json:
        emit_json([e.as_dict() for e in entries])
    else:
        render.audit(entries)


@cli.command()
@click.argument("point_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@json_option
@pass_state
@command
def similar(state: State, point_id: str, limit: int, as_json: bool) -> None:
    """The points nearest to POINT_ID, with their paths and scores: are the vectors of a
    retrain sensible?"""
    result = state.service.similar(point_id, limit=limit)
    if as_json:
        emit_json(result.as_dict())
    else:
        render.similar(result)


@cli.command()
@click.option("--under", help="Only the points inside this directory.")
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "parquet"]), default="jsonl", show_default=True
)
@click.option("--vectors", is_flag=True, help="Include the vectors.")
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="File to write (default: stdout)."
)
@pass_state
@command
def export(state: State, under: str | None, fmt: str, vectors: bool, output: Path | None) -> None:
    """Export the points (id, payload, optionally vector) as JSON lines, streaming.

    With --output the file appears whole or not at all (it is written aside first)."""
    check_export_format(fmt)
    service = state.service
    if output is None:  # the points on stdout, the progress (on a terminal) on stderr
        with progress_bars(True) as (progress, cancel):
            result = service.export(
                sys.stdout, under=under, with_vectors=vectors, progress=progress, cancel=cancel
            )
        sys.stdout.flush()
    else:
        if output.exists():
            raise ValidationError(f"{output} exists: name another file")
        partial_file = output.with_name(output.name + ".partial")
        try:
            with (
                partial_file.open("x", encoding="utf-8") as out,
                progress_bars(True) as (
                    progress,
                    cancel,
                ),
            ):
                result = service.export(
                    out, under=under, with_vectors=vectors, progress=progress, cancel=cancel
                )
            os.link(partial_file, output)
        finally:
            partial_file.unlink(missing_ok=True)
    render.exported(result, output)
