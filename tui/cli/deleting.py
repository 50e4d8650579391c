"""Commands that remove points, and the way back: delete, orphans, reset, restore and the
backup archives restores read. Each shows what it takes and asks (tui.cli.asking) before
it writes."""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from vectorctl.core.errors import SelectionChanged, ValidationError
from vectorctl.core.settings import RESET_PHRASE
from vectorctl.core.targets import Target
from vectorctl.tui import completion
from vectorctl.tui.cli import render
from vectorctl.tui.cli.asking import confirm, confirm_option, reset_phrase
from vectorctl.tui.cli.root import (
    TARGET_KINDS,
    PlainId,
    State,
    cli,
    command,
    examples,
    json_option,
    pass_state,
)
from vectorctl.tui.output import emit_json, progress_bars


@cli.command(
    epilog=examples(
        'vectorctl delete dir /photos/2024 --reason "bad import"',
        "vectorctl delete asset 4711 --yes --json",
        "vectorctl delete dir /photos/2024 --expect 1200 --yes   (only if still 1200)",
    )
)
@click.argument("kind", type=TARGET_KINDS)
@click.argument("value", shell_complete=completion.target_values)
@click.option("--reason", help="Why, for the audit log.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--expect",
    type=click.IntRange(min=0),
    help="The count the preview showed: refuse if the target selects another number now.",
)
@click.option("--no-backup", is_flag=True, help="Skip the points backup (no restore possible).")
@confirm_option
@json_option
@pass_state
@command
def delete(
    state: State,
    kind: str,
    value: str,
    reason: str | None,
    yes: bool,
    expect: int | None,
    no_backup: bool,
    phrase: str | None,
    as_json: bool,
) -> None:
    """Delete the vectors of a directory, asset, training session or category.

    Exactly the previewed selection goes: if points came or went since the preview (or
    since --expect's count), nothing is deleted and the command exits 1.
    """
    target = Target.parse(kind, value)
    service = state.service
    service.require_writable(f"delete {target}")
    shown = service.preview(target)
    if not as_json:
        render.preview(shown, target)
    if expect is not None and expect != shown.count:
        raise SelectionChanged(
            f"{target}: --expect {expect}, but {shown.count} vectors are selected now; "
            "nothing was deleted"
        )
    if shown.count == 0:
        result = service.delete(target, reason=reason)
    else:
        if not (
            shown.needs_phrase and reset_phrase(shown.count, shown.total, phrase, yes, as_json)
        ):
            confirm(f"Delete {shown.count} vectors ({target})?", yes, as_json, shown.as_dict())
        with progress_bars(not as_json) as (progress, cancel):
            result = service.delete(
                target,
                reason=reason,
                backup=not no_backup,
                expect=shown.count,
                confirm=RESET_PHRASE if shown.needs_phrase else None,
                progress=progress,
                cancel=cancel,
            )
    if as_json:
        emit_json(result.as_dict())
    else:
        render.deleted(result)
    if result.deleted_count:
        render.upkeep_note(service.upkeep())


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
@command
def orphans(ctx: click.Context, as_json: bool) -> None:
    """Vectors whose asset no longer exists in the database (preview)."""
    if ctx.invoked_subcommand is not None:
        return
    state: State = ctx.obj
    with progress_bars(not as_json) as (progress, cancel):
        found = state.service.find_orphans(progress=progress, cancel=cancel)
    if as_json:
        emit_json(found.as_dict())
    else:
        render.orphans(found)


@orphans.command("clean")
@click.option("--reason", help="Why, for the audit log.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--no-backup", is_flag=True, help="Skip the points backup.")
@confirm_option
@json_option
@pass_state
@command
def orphans_clean(
    state: State, reason: str | None, yes: bool, no_backup: bool, phrase: str | None, as_json: bool
) -> None:
    """Scan, confirm, then delete the orphans shown (each re-checked against the database)."""
    service = state.service
    service.require_writable("clean orphans")
    with progress_bars(not as_json) as (progress, cancel):
        found = service.find_orphans(progress=progress, cancel=cancel)
    typed = reset_phrase(found.count, found.scanned, phrase, yes, as_json)
    if found.count and not typed:
        confirm(f"Delete {found.count} orphan vectors?", yes, as_json, {"count": found.count})
    with progress_bars(not as_json) as (progress, cancel):
        result = service.clean_orphans(
            confirmed=found,
            reason=reason,
            backup=not no_backup,
            confirm=RESET_PHRASE if typed else None,
            progress=progress,
            cancel=cancel,
        )
    if as_json:
        emit_json(result.as_dict())
    else:
        render.deleted(result)


@cli.command()
@click.option("--confirm", "phrase", required=True, help=f'Must be exactly "{RESET_PHRASE}".')
@click.option("--reason", help="Why, for the audit log.")
@click.option("--no-backup", is_flag=True, help="Skip the points backup of the whole collection.")
@json_option
@pass_state
@command
def reset(state: State, phrase: str, reason: str | None, no_backup: bool, as_json: bool) -> None:
    """Drop and recreate the whole collection (snapshot first on a server)."""
    with progress_bars(not as_json) as (progress, cancel):
        result = state.service.reset(
            phrase, reason=reason, backup=not no_backup, progress=progress, cancel=cancel
        )
    if as_json:
        emit_json(result.as_dict())
    else:
        render.reset(result)


@cli.command(
    epilog=examples(
        "vectorctl restore 42            (shows what it puts back, then asks)",
        "vectorctl restore 42 --yes --json",
    )
)
@click.argument("log_id", type=PlainId("audit entry"), shell_complete=completion.audit_entries)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_state
@command
def restore(state: State, log_id: int, yes: bool, as_json: bool) -> None:
    """Put back what audit entry LOG_ID changed, from its backup archive, exactly.

    The archive is checked whole before anything is written; what the restore overwrites is
    backed up first, so `vectorctl restore` of the restore's own entry undoes it.
    """
    service = state.service
    service.require_writable(f"restore audit entry {log_id}")
    entry = service.audit_entry(log_id)
    if not as_json:
        render.restore_entry(log_id, entry)
    warnings = service.changes_since(log_id)
    render.warnings(warnings)
    confirm(
        "Restore these points" + (", despite the above?" if warnings else "?"),
        yes,
        as_json,
        {"log_id": log_id, "warnings": warnings},
        verb="restored",
    )
    with progress_bars(not as_json) as (progress, cancel):
        result = service.restore(log_id, progress=progress, cancel=cancel)
    if as_json:
        emit_json({**result.as_dict(), "warnings": warnings})
    else:
        render.restored(result)
    render.upkeep_note(service.upkeep())


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
@command
def backups(ctx: click.Context, as_json: bool) -> None:
    """The backup archives of this database: which audit entry each undoes, and its state.

    States: ok, verified, damaged, missing (its entry names a file that is gone), pruned,
    unclaimed (no entry names it), partial (half-written by an operation that did not end).
    """
    if ctx.invoked_subcommand is not None:
        return
    state: State = ctx.obj
    infos = state.service.backups()
    if as_json:
        emit_json([i.as_dict() for i in infos])
    else:
        render.backups(infos)


@backups.command("verify")
@click.argument("log_ids", nargs=-1, type=PlainId("audit entry"))
@json_option
@pass_state
@command
def backups_verify(state: State, log_ids: tuple[int, ...], as_json: bool) -> None:
    """Read archives whole, as a restore would (all, or those of LOG_IDS); exit 1 when one
    is damaged or missing."""
    infos = state.service.backups(verify=True)
    if log_ids:
        unknown = set(log_ids) - {i.log_id for i in infos}
        if unknown:
            raise ValidationError(f"audit entry {min(unknown)} has no backup archive")
        infos = [i for i in infos if i.log_id in log_ids]
    if as_json:
        emit_json([i.as_dict() for i in infos])
    else:
        render.backups(infos)
    if any(i.state in ("damaged", "missing") for i in infos):
        sys.exit(1)


@backups.command("prune")
@click.option(
    "--older-than", "days", type=click.IntRange(min=0), help="Archives written more than DAYS ago."
)
@click.option("--keep-last", type=click.IntRange(min=0), help="Always keep the N newest archives.")
@click.option("--reason", help="Why, for the audit log.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_state
@command
def backups_prune(
    state: State,
    days: int | None,
    keep_last: int | None,
    reason: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Remove archives by a retention rule, audited: their entries can no longer be
    restored. Half-written archives of operations that ended always go."""
    service = state.service
    service.require_writable("prune backups")
    older_than = timedelta(days=days) if days is not None else None
    due = service.backups_due(older_than=older_than, keep_last=keep_last)
    if not as_json:
        render.backups(due)
    if due:
        confirm(
            f"Remove these {len(due)} archives (their entries can no longer be restored)?",
            yes,
            as_json,
            {"due": [i.as_dict() for i in due]},
            verb="pruned",
        )
    with progress_bars(not as_json) as (progress, cancel):
        result = service.prune_backups(
            older_than=older_than,
            keep_last=keep_last,
            reason=reason,
            expect=len(due),
            progress=progress,
            cancel=cancel,
        )
    if as_json:
        emit_json(result.as_dict())
    else:
        render.pruned(result)
