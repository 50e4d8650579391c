"""Commands that embed images: scan queues them, a worker embeds the queue, retrain replaces
directories' vectors (or fills another collection), demo builds a library to try it all on.
Only these load the model, so only these need the `clip` extra."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from vectorctl.core.service import VectorService
from vectorctl.core.settings import RESET_PHRASE, load_settings
from vectorctl.core.targets import Target, TargetKind
from vectorctl.tui import completion, log_setup
from vectorctl.tui.cli import render
from vectorctl.tui.cli.asking import confirm, confirm_option, reset_phrase
from vectorctl.tui.cli.root import (
    State,
    cli,
    command,
    examples,
    json_option,
    pass_state,
    require_terminal,
)
from vectorctl.tui.output import ProgressLines, emit_json, error_line, progress_bars, stderr


@cli.command()
@click.argument("root")
@click.option("--category", "category_id", type=int, help="Category of the new session.")
@json_option
@pass_state
@command
def scan(state: State, root: str, category_id: int | None, as_json: bool) -> None:
    """Register the image files under ROOT and queue a job per new image."""
    state.service.require_writable(f"scan {root}")
    with progress_bars(not as_json) as (progress, cancel):
        result = state.service.scan(root, category_id=category_id, progress=progress, cancel=cancel)
    if as_json:
        emit_json(result.as_dict())
    else:
        render.scanned(result)


@cli.command(
    epilog=examples(
        "vectorctl worker                          drain the queue once",
        "vectorctl worker --follow --json          as a service: NDJSON lines",
    )
)
@click.option(
    "--follow", is_flag=True, help="Keep waiting for new jobs until stopped (Ctrl-C, SIGTERM)."
)
@click.option("--batch-size", type=click.IntRange(1, 1024), default=32, show_default=True)
@json_option
@pass_state
@command
def worker(state: State, follow: bool, batch_size: int, as_json: bool) -> None:
    """Embed queued jobs (several workers may share one PostgreSQL database).

    A worker renews the lease on the jobs it holds while it runs. The jobs of a worker that
    died on this host are taken over at once; those of one on another host when its lease
    runs out (two minutes at most). Ctrl-C, SIGTERM and SIGHUP finish the batch being
    embedded and hand the other claimed jobs back to the queue.

    \b
    Exit codes:
      0  the queue is drained; with --follow, also when stopped by a signal or Ctrl-C
      1  every job it ran failed, the database did not answer for a whole lease, or
         (without --follow) it was stopped before the queue was drained
      3  nothing left to claim, but other workers still hold jobs (named in the output):
         the queue is not drained yet
    """
    service = state.service
    service.require_writable("run a worker")
    # A worker run as a service has no terminal: it says how it goes in lines instead of
    # bars (NDJSON with --follow --json: one object per line, the result last).
    lines = None
    if follow and as_json:
        lines = ProgressLines(json=True)
    elif not as_json and not stderr.is_terminal:
        lines = ProgressLines(json=False)
    with progress_bars(not as_json and lines is None) as (progress, cancel):
        if lines is not None:
            lines.started(follow)
        result = service.run_worker(
            follow=follow,
            batch_size=batch_size,
            progress=progress if lines is None else lines,
            cancel=cancel,
        )
    if as_json and lines is not None:
        lines.emit({"event": "result", **result.as_dict()})
    elif as_json:
        emit_json(result.as_dict())
    else:
        render.worker(result)
    if result.embedded:
        render.upkeep_note(service.upkeep())
    if result.lease_lost:
        error_line(
            "the database did not answer for a whole lease: stopped, since other workers may "
            "have taken over the claimed jobs",
            as_json=False,  # the result above is the one JSON document
            exit_code=1,
        )
    if result.lease_lost or (result.failed and not result.embedded):
        sys.exit(1)
    if not follow and result.cancelled:
        sys.exit(1)
    if not follow and result.held_by_others:
        sys.exit(3)


@cli.command(
    epilog=examples(
        "vectorctl retrain /photos/2024 --wait",
        'vectorctl retrain /photos/2023 /photos/2024 --reason "new model" --yes',
    )
)
@click.argument("prefixes", nargs=-1, required=True, shell_complete=completion.directories)
@click.option("--category", "category_id", type=int, help="Category of the new sessions.")
@click.option("--reason", help="Why, for the audit log and the reset sessions.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--no-backup", is_flag=True, help="Skip the points backup.")
@click.option("--wait", is_flag=True, help="Embed the queued jobs before returning.")
@click.option(
    "--into",
    "into",
    metavar="COLLECTION",
    help="Embed into this (new) collection instead, leaving the served one as it is.",
)
@confirm_option
@json_option
@pass_state
@command
def retrain(
    state: State,
    prefixes: tuple[str, ...],
    category_id: int | None,
    reason: str | None,
    yes: bool,
    no_backup: bool,
    wait: bool,
    into: str | None,
    phrase: str | None,
    as_json: bool,
) -> None:
    """Delete the vectors of PREFIX..., reset their sessions and queue them again.

    With --into COLLECTION nothing is deleted: the images are embedded into COLLECTION
    (created with the model's vector size), here and now; check it, then switch the alias
    the service queries (`vectorctl aliases switch ALIAS COLLECTION`)."""
    service = state.service
    service.require_writable("retrain")
    if into is not None:
        _retrain_into(state, list(prefixes), into, category_id, reason, yes, as_json)
        return
    directories = service.check_retrain(prefixes, category_id)
    previews = [
        service.preview(Target(TargetKind.DIRECTORY, p), sample_size=3) for p in directories
    ]
    shown = service.preview(Target.of_directories(directories), sample_size=1)
    if not as_json:
        render.retrain_previews(previews)
    typed = reset_phrase(shown.count, shown.total, phrase, yes, as_json)
    if not typed:
        confirm(
            f"Retrain {len(directories)} directories ({shown.count} vectors deleted first)?",
            yes,
            as_json,
            {"count": shown.count, "targets": [p.as_dict() for p in previews]},
        )
    with progress_bars(not as_json) as (progress, cancel):
        result = service.retrain(
            directories,
            category_id=category_id,
            reason=reason,
            backup=not no_backup,
            wait=wait,
            expect=shown.count,
            confirm=RESET_PHRASE if typed else None,
            progress=progress,
            cancel=cancel,
        )
    if as_json:
        emit_json(result.as_dict())
    else:
        render.retrained(result, wait)
    if wait:
        render.upkeep_note(service.upkeep())
    if wait and result.cancelled:
        sessions = ", ".join(str(i) for i in result.session_ids)
        error_line(
            f"stopped before the end: {result.remaining} jobs of session {sessions} are still "
            "queued; run them with `vectorctl worker` (or w on the console's Sessions screen)",
            as_json=False,  # the result above is the one JSON document
            exit_code=1,
        )
        sys.exit(1)


def _retrain_into(
    state: State,
    prefixes: list[str],
    into: str,
    category_id: int | None,
    reason: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """`retrain --into`: embed the directories into another collection, audited."""
    service = state.service
    if not as_json:
        render.retrain_into_plan(
            prefixes, into, service.settings.clip_model, service.settings.collection
        )
    confirm(
        f"Embed {len(prefixes)} directories into {into}?",
        yes,
        as_json,
        {"into": into, "directories": prefixes},
        verb="queued",
    )
    with progress_bars(not as_json) as (progress, cancel):
        result = service.retrain_into(
            prefixes,
            into,
            category_id=category_id,
            reason=reason,
            progress=progress,
            cancel=cancel,
        )
    if as_json:
        emit_json(result.as_dict())
    else:
        render.retrained_into(result, into)
    if result.cancelled or (result.failed and not result.embedded):
        sys.exit(1)


@cli.command()
@click.option(
    "--data-dir",
    "demo_dir",
    type=click.Path(path_type=Path),
    help="Where to build it (default: a 'demo' folder in the user data directory).",
)
@click.option("--no-open", is_flag=True, help="Build only; do not open the console.")
@click.option("--images-per-event", type=click.IntRange(10, 500), default=30, show_default=True)
@json_option
@pass_state
@command
def demo(
    state: State, demo_dir: Path | None, no_open: bool, images_per_event: int, as_json: bool
) -> None:
    """Build a demo library on the embedded default (random weights) and open the console.

    The demo never touches a configured database or Qdrant: it is its own deployment in its
    own data directory. Re-running it is safe.
    """
    import platformdirs

    directory = demo_dir or Path(platformdirs.user_data_dir("vectorctl")) / "demo"
    clip = {k: state.overrides.get(k) for k in ("clip_model", "device")}
    # Random weights: what the demo was embedded with, so a retrain in it loads the same.
    settings = load_settings(
        {"data_dir": str(directory), "clip_pretrained": "random", **clip},
        env={},
        use_profile=False,
    )
    log_setup.configure(settings.data_dir, verbose=state.verbose)
    service = VectorService(settings)
    try:
        if not as_json:
            render.demo_building(directory)
        with progress_bars(not as_json) as (progress, cancel):
            result = service.build_demo(
                per_event=images_per_event, progress=progress, cancel=cancel
            )
    finally:
        service.close()
    reopen = ["vectorctl", "--data-dir", str(directory), "--clip-pretrained", "random"]
    for key in ("clip_model", "device"):
        if clip[key]:
            reopen += [f"--{key.replace('_', '-')}", str(clip[key])]
    if as_json:
        emit_json(result.as_dict())
    else:
        render.demo(result, shlex.join(reopen))
    if not (no_open or as_json):
        from vectorctl.tui.app import run_app

        require_terminal("opening the demo in the console (--no-open builds only)")
        log_setup.configure(settings.data_dir, verbose=state.verbose, to_stderr=False)
        run_app(settings)
