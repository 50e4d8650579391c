"""Commands a monitoring system runs as well as a person: health, and drift between the
database and the store (with its repair). Their exit codes carry the verdict, so a cron job
or a probe needs no parsing."""

from __future__ import annotations

import sys

import click

from vectorctl.core.errors import SelectionChanged, ValidationError
from vectorctl.core.service import (
    DEFAULT_P95_MS,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_SEARCHES,
    DEFAULT_SNAPSHOT_HOURS,
    DEFAULT_WINDOW_HOURS,
    KINDS,
    PAYLOAD_KINDS,
    SEARCH_BUDGET_SECONDS,
    Rules,
)
from vectorctl.tui.cli import render
from vectorctl.tui.cli.asking import confirm
from vectorctl.tui.cli.root import State, cli, command, json_option, pass_state
from vectorctl.tui.output import emit_json, progress_bars

DRIFT_EXIT = 4  # the drift rate is above --max-rate
kind_option = click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(KINDS),
    help="Compare only this kind (repeatable; default all).",
)
under_option = click.option("--under", help="Only what lies in this directory, by either side.")


@cli.group(invoke_without_command=True)
@kind_option
@under_option
@click.option(
    "--sample",
    "size",
    type=click.IntRange(min=1),
    help="Estimate from N random database rows instead of comparing every point.",
)
@click.option("--seed", type=int, help="Seed of the sample's random draw of assets.")
@click.option(
    "--max-rate",
    type=click.FloatRange(0, 1),
    help=f"Exit {DRIFT_EXIT} when the payload drift rate is above this (--sample: default 0).",
)
@json_option
@click.pass_context
@command
def drift(
    ctx: click.Context,
    kinds: tuple[str, ...],
    under: str | None,
    size: int | None,
    seed: int | None,
    max_rate: float | None,
    as_json: bool,
) -> None:
    """Where the database and the vector store disagree (reference 002), per kind and
    directory, with a sample of both sides; changes nothing.

    \b
    Kinds: path (payload path is not the asset's), category (not the category of the
    session that last embedded the asset, or one that no longer exists), faces (person_id
    of the faces collection is not face_instances'), missing (assets without a vector),
    orphans (vectors without an asset), faces-missing, faces-orphans.
    With --sample N, an estimate with its 95% interval from N random rows: fast enough for
    cron. Exit 4 when the payload drift rate is above --max-rate.
    """
    if ctx.invoked_subcommand is not None:
        return
    state: State = ctx.obj
    if size is not None:
        if under is not None:
            raise ValidationError(
                "--under and --sample do not go together: a sample is drawn from every row"
            )
        estimate = state.service.drift_sample(size, kinds=kinds or None, seed=seed)
        if as_json:
            emit_json(estimate.as_dict())
        else:
            render.drift_estimate(estimate)
        limit: float | None = 0.0 if max_rate is None else max_rate
        rate = estimate.drift.rate
    else:
        with progress_bars(not as_json) as (progress, cancel):
            report = state.service.drift_scan(
                kinds=kinds or None, under=under, progress=progress, cancel=cancel
            )
        if as_json:
            emit_json(report.as_dict())
        else:
            render.drift(report)
        rate, limit = report.rate, max_rate
    if limit is not None and rate > limit:
        if not as_json:
            render.drift_above(rate, limit)
        sys.exit(DRIFT_EXIT)


@drift.command("repair")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(PAYLOAD_KINDS),
    help="Repair only this kind (repeatable; default path, category and faces).",
)
@under_option
@click.option("--reason", help="Why, for the audit log.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--expect",
    type=click.IntRange(min=0),
    help="The number of points the preview showed: refuse if another number drifts now.",
)
@json_option
@pass_state
@command
def drift_repair(
    state: State,
    kinds: tuple[str, ...],
    under: str | None,
    reason: str | None,
    yes: bool,
    expect: int | None,
    as_json: bool,
) -> None:
    """Set drifted payloads from the database (the source of truth), audited and backed up
    like a delete: `vectorctl restore` of each entry puts the old payloads back.

    The drift is compared again when the repair starts: if it is not exactly the drift
    previewed (or --expect's count), nothing is changed and the command exits 1.
    """
    service = state.service
    service.require_writable("repair drift")
    with progress_bars(not as_json) as (progress, cancel):
        plan = service.drift_plan(
            kinds=kinds or None, under=under, progress=progress, cancel=cancel
        )
    if expect is not None and expect != plan.count:
        raise SelectionChanged(
            f"drift repair: --expect {expect}, but {plan.count} points drift now; "
            "nothing was changed"
        )
    preview = {"count": plan.count, "counts": plan.report.counts}
    if not as_json:
        render.drift_plan(plan)
    if plan.count:
        confirm(
            f"Set {plan.count:,} payloads from the database?",
            yes,
            as_json,
            preview,
            verb="repaired",
        )
    with progress_bars(not as_json) as (progress, cancel):
        result = service.repair_drift(
            kinds=kinds or None,
            under=under,
            confirmed=plan,
            reason=reason,
            progress=progress,
            cancel=cancel,
        )
    if as_json:
        emit_json(result.as_dict())
    else:
        render.drift_repaired(result)


@cli.command()
@click.option(
    "--p95-ms",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_P95_MS,
    show_default=True,
    help="Search latency target (p95).",
)
@click.option(
    "--searches",
    type=click.IntRange(1, 1000),
    default=DEFAULT_SEARCHES,
    show_default=True,
    help=f"Searches to time (within {SEARCH_BUDGET_SECONDS:g} s).",
)
@click.option(
    "--snapshot-max-hours",
    type=click.FloatRange(min=0),
    default=DEFAULT_SNAPSHOT_HOURS,
    show_default=True,
    help="Age of the newest snapshot allowed (0: not checked).",
)
@click.option(
    "--retention-days",
    type=click.IntRange(min=0),
    default=DEFAULT_RETENTION_DAYS,
    show_default=True,
    help="Backup archives older than this are reported.",
)
@click.option(
    "--window-hours",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_WINDOW_HOURS,
    show_default=True,
    help="How recent failed jobs and interrupted operations count.",
)
@json_option
@pass_state
@command
def health(
    state: State,
    p95_ms: float,
    searches: int,
    snapshot_max_hours: float,
    retention_days: int,
    window_hours: float,
    as_json: bool,
) -> None:
    """Check the deployment for people and for monitoring.

    \b
    Exit codes:
      0  healthy
      1  degraded (a check needs attention)
      2  down (database or store unreachable, collection missing or red)
    """
    report = state.service.health(
        Rules(
            p95_ms=p95_ms,
            searches=searches,
            snapshot_hours=snapshot_max_hours,
            retention_days=retention_days,
            window_hours=window_hours,
        )
    )
    if as_json:
        emit_json({**report.as_dict(), "exit_code": report.exit_code})
    else:
        render.health(report)
    sys.exit(report.exit_code)
