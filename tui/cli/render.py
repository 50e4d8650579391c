"""What a person reads: each command's result as rich tables and lines.

Apart from the commands so that how a result reads can change without touching what a
command does. Scripts read the JSON instead (the result's `as_dict()`, which never passes
through here); the notes and warnings on stderr are printed with either. Paths, reasons,
collection names and engines' messages are shown literally (escaped, or as Text): `[red]`
in a path is part of the path. The streams, progress bars and error lines are
`tui.output`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from vectorctl.core.results import (
    AuditEntry,
    DeleteResult,
    DemoResult,
    DirectoryStats,
    Info,
    JobHolder,
    JobRow,
    OptimizeResult,
    OrphanReport,
    Preview,
    PruneResult,
    ResetResult,
    RestoreResult,
    RetrainResult,
    ScanResult,
    SessionRow,
    WorkerResult,
)
from vectorctl.core.service import (
    PAYLOAD_KINDS,
    AliasPreview,
    AliasResult,
    BackfillResult,
    BackupInfo,
    CollectionRow,
    CollectionsReport,
    CopyResult,
    DriftEstimate,
    DriftItem,
    DriftPlan,
    DriftRepair,
    DriftReport,
    ExportResult,
    HealthReport,
    IndexResult,
    SimilarResult,
    SnapshotChange,
    SnapshotRow,
    Upkeep,
)
from vectorctl.core.settings import RESET_PHRASE
from vectorctl.core.targets import Target
from vectorctl.tui.output import notice_line, print_table, stderr, stdout

SHOWN = 20  # drift's sample lines and directories printed; --json has them all
DRIFT_MEANING = {
    "path": "payload path is not the asset's path",
    "category": "payload category is not the embedding session's",
    "faces": "faces: payload person_id is not face_instances'",
    "missing": "assets without a vector",
    "orphans": "vectors without an asset",
    "faces-missing": "face rows without a point",
    "faces-orphans": "face points without a row",
}


def _bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def number(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _status_text(status: str) -> Text:
    style = {
        "green": "green",
        "ok": "green",
        "healthy": "bold green",
        "yellow": "yellow",
        "grey": "yellow",
        "degraded": "bold yellow",
        "red": "bold red",
        "down": "bold red",
    }.get(status, "dim")
    return Text(status, style=style)


def _value(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _percent(rate: float) -> str:
    return f"{rate:.3%}"


# -- reading --------------------------------------------------------------------------------


def info(result: Info) -> None:
    table = Table(show_header=False, box=None)
    for key, value in result.config.items():
        if key != "sources":
            source = result.config["sources"].get(key, "")
            table.add_row(key, escape(str(value)), f"[dim]{escape(source)}[/]")
    stdout.print(table)
    db = "ok" if result.database_ok else f"[red]{escape(str(result.database_error))}[/]"
    store = "ok" if result.store_ok else f"[red]{escape(str(result.store_error))}[/]"
    stdout.print(f"database: {db}  assets={result.assets} sessions={result.sessions}")
    stdout.print(
        f"store: {store}  collection exists={result.collection_exists} "
        f"size={result.vector_size} points={result.points}"
    )
    for advice in result.advice:
        stdout.print(Text.assemble(("advice:", "bold yellow"), " ", advice), highlight=False)


def directory_stats(rows: list[DirectoryStats]) -> None:
    table = Table(box=None, header_style="bold")
    table.add_column("directory", overflow="fold", min_width=24)
    for name in ("vectors", "direct", "assets", "missing", "orphans", "sessions"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("last trained", no_wrap=True)
    for r in rows:
        table.add_row(
            escape(r.path),
            str(r.vector_count),
            str(r.direct_vector_count),
            str(r.asset_count),
            f"[yellow]{r.missing_count}[/]" if r.missing_count else "0",
            f"[magenta]{r.orphan_count}[/]" if r.orphan_count else "0",
            str(r.session_count),
            r.last_trained_at.strftime("%Y-%m-%d %H:%M") if r.last_trained_at else "-",
        )
    print_table(table, drop=("direct", "sessions", "last trained"))


def sessions(rows: list[SessionRow]) -> None:
    table = Table(box=None, header_style="bold")
    for name in ("id", "status", "images", "done", "failed", "jobs"):
        table.add_column(name, no_wrap=True)
    table.add_column("directory", overflow="fold", min_width=24)
    table.add_column("completed", no_wrap=True)
    for r in rows:
        table.add_row(
            str(r.id),
            escape(r.status),
            str(r.total_images or 0),
            str(r.processed_images or 0),
            str(r.failed_images or 0),
            str(r.job_count),
            escape(r.directory_path),
            r.completed_at.strftime("%Y-%m-%d %H:%M") if r.completed_at else "-",
        )
    print_table(table, drop=("jobs", "done", "completed"))


def jobs(rows: list[JobRow]) -> None:
    for r in rows:
        error = f"  [red]{escape(r.error_message)}[/]" if r.error_message else ""
        status = escape(f"{r.status:<9}")
        stdout.print(f"{r.id:>7}  {status}  {escape(r.path or '-')}{error}", highlight=False)


def preview(shown: Preview, target: Target) -> None:
    stdout.print(f"[bold]{shown.count}[/] vectors selected by {escape(str(target))}")
    for s in shown.sample:
        stdout.print(f"  {s.id}  {escape(str(s.path))}", highlight=False)
    if shown.count > len(shown.sample):
        stdout.print(f"  … and {shown.count - len(shown.sample)} more")
    if shown.note:
        stdout.print(f"[dim]{escape(shown.note)}[/]")
    if shown.needs_phrase:
        stdout.print(
            f"[bold red]{shown.count} of the collection's {shown.total} vectors[/]: a "
            f'delete needs the reset phrase (--confirm "{RESET_PHRASE}")'
        )


def audit(entries: list[AuditEntry]) -> None:
    table = Table(box=None, header_style="bold")
    for name in ("id", "when", "type", "count", "status"):
        table.add_column(name, no_wrap=True)
    table.add_column("target", overflow="fold", min_width=24)
    table.add_column("operator", no_wrap=True, overflow="ellipsis", max_width=16)
    table.add_column("reason", overflow="fold")
    for e in entries:
        table.add_row(
            str(e.id),
            e.created_at.strftime("%Y-%m-%d %H:%M") if e.created_at else "-",
            escape(e.deletion_type),
            str(e.vector_count),
            escape(e.status),
            escape(e.deletion_target),
            escape(e.operator or "-"),
            escape(e.deletion_reason or ""),
        )
    print_table(table, drop=("operator", "reason", "when"))


def similar(result: SimilarResult) -> None:
    stdout.print(Text(f"{result.point_id}  {result.path or '-'}", style="bold"))
    for n in result.neighbours:
        stdout.print(Text(f"  {n.score:8.4f}  {n.id}  {n.path or '-'}"))
    if not result.neighbours:
        stdout.print("  no other point in the collection")


def exported(result: ExportResult, output: Path | None) -> None:
    """On stderr: stdout may be the export itself."""
    stderr.print(
        Text(
            f"exported {result.points:,} points of {result.collection}"
            + (f" under {result.under}" if result.under else "")
            + (f" to {output}" if output else "")
        )
    )


# -- deleting and putting back --------------------------------------------------------------


def deleted(result: DeleteResult) -> None:
    if result.log_id is None:
        stdout.print("nothing matched; nothing deleted, no audit entry written")
        return
    stdout.print(f"deleted [bold]{result.deleted_count}[/] vectors (audit entry {result.log_id})")
    if result.backup:
        stdout.print(
            f"backup: {escape(result.backup)}  (undo: vectorctl restore {result.log_id})",
            highlight=False,
        )


def orphans(found: OrphanReport) -> None:
    stdout.print(f"[bold]{found.count}[/] orphan vectors among {found.scanned} scanned")
    for o in found.orphans[:20]:
        stdout.print(
            f"  {o.id}  asset {escape(str(o.asset_id))}  {escape(str(o.path))}", highlight=False
        )
    if found.count > 20:
        stdout.print(f"  … and {found.count - 20} more (--json lists all)")


def reset(result: ResetResult) -> None:
    stdout.print(
        f"collection reset: {result.deleted_count} vectors removed (audit entry {result.log_id})"
    )
    if result.snapshot:
        stdout.print(f"server snapshot: {escape(result.snapshot)}")
    if result.backup:
        stdout.print(f"backup: {escape(result.backup)}", highlight=False)


def restore_entry(log_id: int, entry: AuditEntry) -> None:
    """What a restore of this entry puts back, before it is confirmed."""
    stdout.print(
        escape(
            f"entry {log_id}: {entry.deletion_type} {entry.deletion_target}, "
            f"{entry.vector_count} vectors, backup {entry.backup}"
        ),
        highlight=False,
        markup=False,
    )


def warnings(lines: list[str]) -> None:
    """On stderr, with the question they qualify, whatever the output mode."""
    for warning in lines:
        stderr.print(Text.assemble(("warning:", "bold yellow"), " ", warning), highlight=False)


def restored(result: RestoreResult) -> None:
    removed = f", removed {result.removed_count}" if result.removed_count else ""
    stdout.print(f"restored {result.restored_count} vectors{removed} (audit entry {result.log_id})")
    if result.backup:
        stdout.print(
            f"what it overwrote: {result.backup}  (undo: vectorctl restore {result.log_id})",
            highlight=False,
            markup=False,
        )


def upkeep_note(upkeep: Upkeep) -> None:
    """After a bulk write: say so when the store should be optimised now."""
    if upkeep.optimize_due:
        notice_line(
            f"optimize due: {'; '.join(upkeep.reasons)}; run `vectorctl store optimize` to "
            "put the store back in its fast layout"
        )


def backups(infos: list[BackupInfo]) -> None:
    table = Table(box=None, header_style="bold")
    for name in ("entry", "state", "type", "points", "size", "written"):
        table.add_column(name, no_wrap=True)
    table.add_column("target", overflow="fold", min_width=24)
    for i in infos:
        table.add_row(
            str(i.log_id or "-"),
            escape(i.state),
            escape(i.deletion_type or "-"),
            "-" if i.points is None else str(i.points),
            "-" if i.size is None else _bytes(i.size),
            (i.created_at or "-")[:16].replace("T", " "),
            escape(i.target or i.path),
        )
    print_table(table, drop=("written", "size"))
    for i in infos:
        if i.problem:
            stdout.print(f"entry {i.log_id or '-'}: {i.problem} ({i.path})", markup=False)


def pruned(result: PruneResult) -> None:
    if result.log_id is None:
        stdout.print("no archive is due; nothing removed")
    else:
        stdout.print(
            f"removed {result.pruned} archives ({_bytes(result.bytes)}, the backups of "
            f"{result.points} points; audit entry {result.log_id})"
        )


# -- ingest, queue and retrain --------------------------------------------------------------


def _line(text: str) -> None:
    """A result's one line, literally: it names paths, models and collections."""
    stdout.print(text, markup=False, highlight=False)


def scanned(result: ScanResult) -> None:
    _line(
        f"{result.found} images found, {result.registered} registered, {result.skipped} known; "
        f"{result.queued} jobs queued"
        + (f" in session {result.session_id}" if result.session_id else "")
        + " (run `vectorctl worker`)"
    )


def _holder(holder: JobHolder) -> str:
    if holder.alive:
        held = "running on this host"
    elif holder.lease_expires_at is not None:
        held = f"lease until {holder.lease_expires_at:%H:%M:%S} UTC"
    else:
        held = "no lease: not a vectorctl worker, never reclaimed"
    return f"{holder.worker_id or 'unnamed'}: {holder.jobs} jobs, {held}"


def worker(result: WorkerResult) -> None:
    said = [
        f"embedded {result.embedded}, failed {result.failed}"
        + (f" on {result.device}, weights {result.weights}" if result.device else "")
        + (" (stopped)" if result.cancelled else "")
    ]
    if result.released:
        said.append(f"{result.released} claimed jobs handed back to the queue")
    if result.held_by_others:
        said.append(
            f"{result.held_by_others} jobs are held by other workers ("
            + "; ".join(_holder(h) for h in result.holders)
            + ")"
            + (
                f"; they will be reclaimed at {result.held_until:%Y-%m-%d %H:%M:%S} UTC "
                "if those workers are gone"
                if result.held_until
                else ""
            )
        )
    for line in said:
        _line(line)


def retrain_previews(previews: list[Preview]) -> None:
    for p in previews:
        stdout.print(
            f"{escape(p.target.value)}: [bold]{p.count}[/] vectors will be deleted and re-embedded",
            highlight=False,
        )


def retrained(result: RetrainResult, wait: bool) -> None:
    _line(
        f"deleted {result.deleted_count} vectors, reset {result.sessions_reset} sessions, "
        f"queued {result.queued} jobs in session {result.session_id}"
        + (
            f"; embedded {result.embedded}, failed {result.failed}"
            if wait
            else " (run `vectorctl worker`)"
        )
    )


def retrain_into_plan(prefixes: list[str], into: str, clip_model: str, live: str) -> None:
    stdout.print(
        Text(
            f"{', '.join(prefixes)}: every image is embedded again into {into} "
            f"({clip_model}); {live} is not changed"
        )
    )


def retrained_into(result: RetrainResult, into: str) -> None:
    _line(
        f"embedded {result.embedded} of {result.queued} images into {into}, failed "
        f"{result.failed}"
        + (" (stopped: run it again)" if result.cancelled else "")
        + f" (audit entry {result.log_ids[0]}). Check it: vectorctl --collection {into} "
        f"similar ID, vectorctl --collection {into} health; then vectorctl aliases switch "
        f"ALIAS {into}"
    )


def demo_building(directory: Path) -> None:
    stderr.print(
        f"building the demo library in {escape(str(directory))} "
        "(OpenCLIP with random weights: not a trained model)"
    )


def demo(result: DemoResult, reopen: str) -> None:
    embedded = f"{result.embedded} embedded now, " if result.created else ""
    _line(
        ("built:" if result.created else "already built:")
        + f" {result.images} images, {result.vectors} vectors, {embedded}"
        f"{result.failed} failed, {result.deletions} audited deletions, "
        f"{result.orphan_vectors} orphan vectors, {result.missing_vectors} missing vectors, "
        f"weights {result.weights} ({result.seconds:.0f} s). "
        f"Reopen with: {reopen}"
    )


# -- database schema and store chores -------------------------------------------------------


def schema_upgraded(changes: list[str]) -> None:
    for change in changes:
        stdout.print(f"  {escape(change)}")
    stdout.print("database is up to date" + (f" ({len(changes)} changes)" if changes else ""))


def backfilled(result: BackfillResult) -> None:
    stdout.print(
        f"backfilled {result.updated} points ({result.skipped} without a path)"
        + ("; optimized the store" if result.optimized else "")
    )


def optimized(result: OptimizeResult) -> None:
    if result.optimized:
        stdout.print(
            f"optimized {result.points} points in {result.seconds:.1f} s: "
            f"{result.segments_before} segments before, {result.segments_after} now; "
            f"the store opens in {result.open_seconds:.2f} s"
        )
    else:
        stdout.print(f"nothing to optimize: the store opens in {result.open_seconds:.2f} s")


def migrated(result: CopyResult) -> None:
    stdout.print(
        escape(f"copied {result.copied} points from {result.source} to {result.target}")
        + ("; optimized the target" if result.optimized else "")
    )


# -- drift between the database and the store -----------------------------------------------


def drift(report: DriftReport) -> None:
    stdout.print(
        f"compared {report.points:,} points with {report.scanned_rows:,} database rows "
        f"in {report.seconds:.1f} s" + (f" (inside {report.under})" if report.under else ""),
        markup=False,
        highlight=False,
    )
    table = Table(box=None, header_style="bold")
    table.add_column("kind", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("", overflow="fold")
    for kind, n in report.counts.items():
        table.add_row(kind, f"{n:,}", DRIFT_MEANING[kind], style="yellow" if n else "")
    for kind, why in report.skipped.items():
        table.add_row(kind, "-", Text(f"not checked: {why}"), style="dim")
    stdout.print(table)
    stdout.print(
        f"payload drift: {report.drifted:,} points ({_percent(report.rate)})"
        + (" - `vectorctl drift repair` sets them from the database" if report.drifted else ""),
        markup=False,
        highlight=False,
    )
    _drift_directories(report)
    _drift_samples(report.samples)


def _drift_directories(report: DriftReport) -> None:
    """The deepest directories holding drift first: where an operator looks."""
    rows = sorted(report.directories, key=lambda d: (-d.total, d.path))
    leaves = [d for d in rows if not any(o.path.startswith(d.path + "/") for o in rows)]
    if not leaves:
        return
    kinds = [k for k, n in report.counts.items() if n]
    table = Table(box=None, header_style="bold", title_justify="left")
    table.add_column("directory", overflow="fold", min_width=24)
    for kind in kinds:
        table.add_column(kind, justify="right", no_wrap=True)
    for d in leaves[:SHOWN]:
        table.add_row(Text(d.path), *(str(d.counts.get(k, "")) for k in kinds))
    stdout.print(table)
    if len(leaves) > SHOWN:
        stdout.print(f"  … and {len(leaves) - SHOWN:,} more directories (--json lists all)")


def _drift_samples(samples: list[DriftItem]) -> None:
    """One line each: the point, the field, what the payload says -> what the database says
    (what a repair sets)."""
    for item in samples[: SHOWN * 2]:
        point = "-" if item.point_id is None else str(item.point_id)
        line = Text(f"  {item.kind:<13} {point}  {item.field}: ")
        line.append(_value(item.payload))
        line.append(" -> database: ")
        line.append(_value(item.database))
        stdout.print(line, highlight=False)
    if len(samples) > SHOWN * 2:
        stdout.print(f"  … and {len(samples) - SHOWN * 2:,} more in the sample (--json)")


def drift_estimate(estimate: DriftEstimate) -> None:
    d, m = estimate.drift, estimate.missing
    stdout.print(
        f"sampled {d.sampled:,} of {d.population:,} database rows in {estimate.seconds:.2f} s",
        markup=False,
        highlight=False,
    )
    table = Table(box=None, header_style="bold")
    for name in ("", "found", "rate", "95% interval"):
        table.add_column(name, justify="right" if name else "left", no_wrap=True)
    for name, rate in (("payload drift", d), ("missing vectors", m), *estimate.kinds.items()):
        interval = f"{_percent(rate.low)} - {_percent(rate.high)}"
        table.add_row(name, f"{rate.found:,}", _percent(rate.rate), interval)
    stdout.print(table)
    for kind, why in estimate.skipped.items():
        stdout.print(f"{kind}: not estimated ({why})", markup=False, style="dim")
    _drift_samples(estimate.samples)


def drift_above(rate: float, limit: float) -> None:
    """On stderr: the reason for exit 4, beside the report on stdout."""
    stderr.print(
        f"payload drift {_percent(rate)} is above --max-rate {_percent(limit)}",
        markup=False,
        highlight=False,
    )


def drift_plan(plan: DriftPlan) -> None:
    """What a repair will set, before it is confirmed."""
    stdout.print(
        f"[bold]{plan.count:,}[/] points will be set from the database ("
        + ", ".join(f"{k} {n:,}" for k, n in plan.report.counts.items())
        + ")"
    )
    _drift_samples([s for s in plan.report.samples if s.kind in PAYLOAD_KINDS])


def drift_repaired(result: DriftRepair) -> None:
    if not result.entries:
        stdout.print("no payload drift; nothing changed, no audit entry written")
    for entry in result.entries:
        stdout.print(
            f"repaired {entry.changed:,} points of {entry.collection} (audit entry "
            f"{entry.log_id}); backup {entry.backup}  (undo: vectorctl restore {entry.log_id})",
            markup=False,
            highlight=False,
        )


# -- collections, indexes, aliases, health and snapshots ------------------------------------


def collections(report: CollectionsReport) -> None:
    table = Table(box=None, header_style="bold")
    longest = max((len(r.name) for r in report.collections), default=10)
    table.add_column("collection", overflow="fold", min_width=min(longest + 2, 48))
    for name in ("points", "vectors", "status", "segments", "indexes", "disk"):
        table.add_column(name, no_wrap=True, justify="right" if name != "status" else "left")
    table.add_column("aliases", overflow="fold")
    for row in report.collections:
        label = Text("* " if row.active else "  ", style="cyan")
        label.append(row.name, style="bold" if row.active else "")
        vectors = f"{row.vector_size} {row.distance}" if row.vector_size else "-"
        if not row.indexes_supported:
            indexes = "n/a"
        else:
            present = sum(1 for i in row.indexes if i.kind)
            indexes = f"{present}" + (
                f" ({len(row.missing_indexes)} missing)" if row.missing_indexes else ""
            )
        table.add_row(
            label,
            number(row.points),
            vectors,
            _status_text(row.status if row.exists else "missing"),
            number(row.segments),
            indexes,
            "-" if row.disk_bytes is None else _bytes(row.disk_bytes),
            Text(", ".join(row.aliases)),
        )
    stdout.print(Text(f"{report.store} {report.location}", style="dim"))
    stdout.print(table)
    for row in report.collections:
        if row.error:
            stdout.print(Text(f"{row.name}: {row.error}", style="red"))
    active = next((r for r in report.collections if r.active), None)
    if active is not None and active.missing_indexes:
        stdout.print(
            Text(
                f"{active.name} lacks vectorctl's payload indexes "
                f"{', '.join(active.missing_indexes)}: see `vectorctl indexes`",
                style="yellow",
            )
        )


def indexes(row: CollectionRow) -> None:
    if not row.indexes_supported:
        stdout.print("qdrant-client local mode has no payload indexes: filters and facets scan")
        return
    table = Table(box=None, header_style="bold")
    for name in ("field", "type", "points", "state"):
        table.add_column(name, no_wrap=True)
    table.add_column("vectorctl uses it for", overflow="fold")
    for index in row.indexes:
        kind = (index.kind or "-") + (" (prefix)" if index.prefix else "")
        state_text = (
            Text("missing", style="bold yellow")
            if index.missing
            else Text("ok" if index.kind else "-", style="green")
        )
        table.add_row(
            Text(index.field),
            Text(kind),
            number(index.points),
            state_text,
            index.needed_for or "",
        )
    stdout.print(table)
    if row.missing_indexes:
        stdout.print(
            f"{len(row.missing_indexes)} missing: `vectorctl indexes create` creates them",
            markup=False,
        )


def no_index_missing() -> None:
    stdout.print("no payload index is missing; nothing created")


def indexes_to_create(missing: list[str], collection: str) -> None:
    stdout.print(Text(f"will create payload indexes on {', '.join(missing)} of {collection}"))


def indexes_created(result: IndexResult) -> None:
    _line(f"created payload indexes {', '.join(result.created)} (audit entry {result.log_id})")


def aliases(report: CollectionsReport) -> None:
    if not report.aliases_supported:
        stdout.print(f"the {report.store} store has no collection aliases", markup=False)
        return
    if not report.aliases:
        stdout.print("no aliases")
    for alias, collection in sorted(report.aliases.items()):
        stdout.print(Text(f"{alias} -> {collection}"))


def alias_preview(alias: str, collection: str, preview: AliasPreview) -> None:
    """What a switch changes, before it is confirmed."""
    old = (
        f"{preview.previous} ({number(preview.old_points)} points, size {preview.old_size})"
        if preview.previous
        else "nothing (a new alias)"
    )
    stdout.print(Text(f"alias {alias}: {old}"))
    stdout.print(
        Text(f"  -> {collection} ({number(preview.new_points)} points, size {preview.new_size})")
    )
    if preview.new_points == 0:
        stdout.print(Text(f"warning: {collection} holds no points", style="bold yellow"))


def alias_switched(result: AliasResult, alias: str, collection: str) -> None:
    undo = f" (undo: vectorctl aliases switch {alias} {result.previous})" if result.previous else ""
    _line(f"alias {alias} now points at {collection} (audit entry {result.log_id}){undo}")


def health(report: HealthReport) -> None:
    table = Table(box=None, header_style="bold", show_header=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for check in report.checks:
        table.add_row(check.name, _status_text(check.status), Text(check.summary))
    stdout.print(table)
    headline = Text(f"{report.collection}: ")
    headline.append_text(_status_text(report.status))
    headline.append(f" ({report.seconds:.2f} s)", style="dim")
    stdout.print(headline)


def snapshots(rows: list[SnapshotRow]) -> None:
    if not rows:
        stdout.print("no snapshots (vectorctl snapshots create)")
        return
    table = Table(box=None, header_style="bold")
    table.add_column("snapshot", overflow="fold", min_width=min(max(len(r.name) for r in rows), 60))
    for name in ("taken", "size", "points"):
        table.add_column(name, no_wrap=True)
    for r in rows:
        table.add_row(
            Text(r.name),
            (r.created_at or "-")[:16].replace("T", " "),
            "-" if r.size is None else _bytes(r.size),
            number(r.points),
        )
    stdout.print(table)


def snapshot_taken(row: SnapshotRow) -> None:
    _line(f"snapshot {row.name} ({_bytes(row.size or 0)}) at {row.where}")


def snapshot_downloaded(name: str, path: Path) -> None:
    stdout.print(Text(f"downloaded {name} to {path}"))


def snapshot_restored(result: SnapshotChange, collection: str) -> None:
    stdout.print(
        Text(
            f"restored {result.collection} from {result.snapshot}: {number(result.points_before)} "
            f"points before, {number(result.points_after)} now (audit entry {result.log_id})"
        )
    )
    if result.safety_snapshot:
        stdout.print(
            Text(
                f"the state before: snapshot {result.safety_snapshot} "
                f"(vectorctl snapshots restore {result.safety_snapshot} --confirm {collection})"
            )
        )
    if result.backup:
        stdout.print(Text(f"and point by point: {result.backup}"))
    elif result.backup_skipped:
        stdout.print(Text(f"no points-level backup: {result.backup_skipped}", style="yellow"))


def snapshot_deleted(name: str, result: SnapshotChange) -> None:
    _line(f"deleted snapshot {name} (audit entry {result.log_id})")
