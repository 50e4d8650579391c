"""The `vectorctl` command line: the same operations as the console, scriptable.

Exit codes: 0 success, 1 the operation failed, 2 usage or validation error, 3 (worker) jobs
still held by other workers, 4 (drift) payload drift above --max-rate. With --json every
command prints exactly one JSON document on stdout. Textual is imported only when the
console itself is opened (no sub-command), so scripted calls over SSH start fast.
"""

from __future__ import annotations

import functools
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from core.errors import (
    NotFoundError,
    SelectionChanged,
    Unsupported,
    ValidationError,
    VectorctlError,
)
from core.results import JobHolder
from core.service import (
    DEFAULT_P95_MS,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_SEARCHES,
    DEFAULT_SNAPSHOT_HOURS,
    DEFAULT_WINDOW_HOURS,
    KINDS,
    PAYLOAD_KINDS,
    SEARCH_BUDGET_SECONDS,
    BackupInfo,
    DriftEstimate,
    DriftItem,
    DriftReport,
    Rules,
    VectorService,
)
from core.settings import RESET_PHRASE, load_settings, with_overrides
from core.targets import AUDIT_TYPES, Target, TargetKind, parse_id
from core.validation import check_export_format, takes_nearly_all
from tui import completion, log_setup
from tui.global_options import GlobalOptionsGroup
from tui.output import (
    ProgressLines,
    Verbosity,
    emit_json,
    error_line,
    notice_line,
    print_table,
    progress_bars,
    stderr,
    stdout,
)

F = TypeVar("F", bound=Callable[..., Any])
TARGET_KINDS = click.Choice(["dir", "asset", "session", "category"])
JOB_STATUSES = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]
AUDIT_STATUSES = ["completed", "started", "interrupted", "failed", "partial", "cancelled"]


class AnyCase(click.Choice[str]):
    """Choices taken in any case but shown as the tables spell them (DIRECTORY, PENDING,
    completed): click would show them folded to lower case in the help and the error."""

    def __init__(self, choices: Sequence[str]) -> None:
        super().__init__(choices, case_sensitive=False)

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "[" + "|".join(self.choices) + "]"

    def get_invalid_choice_message(self, value: Any, ctx: click.Context | None) -> str:
        return f"{value!r} is not one of {', '.join(self.choices)} (any case)."


class PlainId(click.ParamType):
    """An id argument: digits 0-9 only. click's int is Python's int(), which also takes
    `1_0` (10), `+5` and `٣` (3)."""

    name = "id"

    def __init__(self, what: str):
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_id(self.what, str(value))
        except ValidationError as exc:
            self.fail(str(exc), param, ctx)


class State:
    """What the global options resolved to; the service is opened on first use."""

    def __init__(
        self, overrides: dict[str, Any], profile: Path | None, verbose: int = 0, quiet: bool = False
    ):
        self.overrides = overrides
        self.profile = profile
        self.verbose, self.quiet = verbose, quiet
        Verbosity.quiet = quiet
        self._service: VectorService | None = None

    @property
    def service(self) -> VectorService:
        if self._service is None:
            settings = load_settings(self.overrides, profile=self.profile)
            log_setup.configure(settings.data_dir, verbose=self.verbose)
            self._service = VectorService(settings, on_notice=notice_line)
        return self._service

    def close(self) -> None:
        if self._service is not None:
            self._service.close()
        # The log's handlers go with the command (in a test's process, or any caller that
        # runs several commands, stderr is not the same stream next time).
        log_setup.reset()


def command(fn: F) -> F:
    """Run a command body, turning typed errors into one line and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except VectorctlError as exc:
            error_line(str(exc), as_json=as_json, exit_code=exc.exit_code, details=exc.details)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            error_line("interrupted", as_json=as_json, exit_code=1)
            sys.exit(1)
        except Exception as exc:
            if os.environ.get("VECTORCTL_DEBUG"):
                raise
            error_line(f"{type(exc).__name__}: {exc}", as_json=as_json, exit_code=1)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def examples(*lines: str) -> str:
    """A command's help epilog: example lines, kept as they are (click rewraps text)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


pass_state = click.make_pass_decorator(State)


EXAMPLES = """
\b
Examples:
  vectorctl                                   the console (needs a terminal)
  vectorctl demo                              a demo library to try it on
  vectorctl stats --under /photos --depth 1
  vectorctl preview dir /photos/2024
  vectorctl delete dir /photos/2024 --reason "bad import" --expect 1200 --yes
  vectorctl retrain /photos/2024 --wait
  vectorctl audit --type DIRECTORY --since 2024-06-01
  vectorctl restore 42 --yes
  vectorctl worker --follow --json            a worker as a service (NDJSON lines)

\b
Global options may also follow the command: vectorctl stats --collection faces.
Shell completion (commands, options, directories, ids), for bash:
  eval "$(_VECTORCTL_COMPLETE=bash_source vectorctl)"
(zsh: zsh_source, fish: fish_source; see the README).
"""


@click.group(
    cls=GlobalOptionsGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXAMPLES,
)
@click.version_option(package_name="vectorctl", prog_name="vectorctl")
@click.option("-v", "--verbose", count=True, help="More detail in the log on stderr (-vv: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option("--database-url", help="SQLAlchemy URL (sqlite:///… or postgresql://…).")
@click.option("--qdrant-url", help="Qdrant server URL.")
@click.option("--qdrant-path", help="qdrant-client local-mode storage directory.")
@click.option("--qdrant-edge", help="Qdrant Edge storage directory (the embedded default).")
@click.option("--collection", help="Collection name (default image_assets).")
@click.option("--vector-size", type=int, help="Vector size of a new collection (default 512).")
@click.option("--data-dir", help="Where the embedded default and backups live.")
@click.option("--profile", type=click.Path(path_type=Path), help="Profile file (TOML).")
@click.option("--operator", help="Name recorded in the audit log (default user@host).")
@click.option("--read-only", is_flag=True, default=None, help="Refuse every mutation.")
@click.option("--clip-model", help="OpenCLIP architecture (default ViT-B-32).")
@click.option("--clip-pretrained", help="Weights: a pretrained tag, a local file, or 'random'.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Embedding device.")
@click.pass_context
def cli(
    ctx: click.Context, profile: Path | None, verbose: int, quiet: bool, **options: Any
) -> None:
    """vectorctl: see, preview, delete and retrain the vectors of an image library.

    Without a command, opens the full-screen console.
    """
    state = State(options, profile, verbose=verbose, quiet=quiet)
    ctx.obj = state
    ctx.call_on_close(state.close)
    if ctx.invoked_subcommand is None:
        _open_console(state)


def _require_terminal(what: str) -> None:
    """The console draws on the terminal and reads keys from it: without one (a pipe, cron,
    a service) it would run unseen forever."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        error_line(
            f"not a terminal: {what} needs one (stdin and stderr); "
            "run a command instead (vectorctl --help)",
            as_json=False,
            exit_code=2,
        )
        sys.exit(2)


@command
def _open_console(state: State) -> None:
    from tui.app import run_app

    _require_terminal("the console")
    settings = state.service.settings
    log_setup.configure(settings.data_dir, verbose=state.verbose, to_stderr=False)  # it draws there
    status = run_app(settings)
    if status:
        sys.exit(status)


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
        return
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
        return
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
        return
    for r in rows:
        error = f"  [red]{escape(r.error_message)}[/]" if r.error_message else ""
        status = escape(f"{r.status:<9}")
        stdout.print(f"{r.id:>7}  {status}  {escape(r.path or '-')}{error}", highlight=False)


def _print_preview(state: State, target: Target, as_json: bool) -> Any:
    preview = state.service.preview(target)
    if as_json:
        return preview
    stdout.print(f"[bold]{preview.count}[/] vectors selected by {escape(str(target))}")
    for s in preview.sample:
        stdout.print(f"  {s.id}  {escape(str(s.path))}", highlight=False)
    if preview.count > len(preview.sample):
        stdout.print(f"  … and {preview.count - len(preview.sample)} more")
    if preview.note:
        stdout.print(f"[dim]{escape(preview.note)}[/]")
    if preview.needs_phrase:
        stdout.print(
            f"[bold red]{preview.count} of the collection's {preview.total} vectors[/]: a "
            f'delete needs the reset phrase (--confirm "{RESET_PHRASE}")'
        )
    return preview


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
    result = _print_preview(state, Target.parse(kind, value), as_json)
    if as_json:
        emit_json(result.as_dict())


confirm_option = click.option(
    "--confirm",
    "phrase",
    metavar="PHRASE",
    help=f'"{RESET_PHRASE}": needed (instead of --yes) when this takes all, or nearly all, '
    "of the collection's vectors.",
)


def _phrase(count: int, total: int | None, phrase: str | None, yes: bool, as_json: bool) -> bool:
    """For a delete of (nearly) the whole collection: True once the reset phrase confirmed
    it (given with --confirm, or typed at the prompt on a terminal); a wrong or missing
    phrase refuses (exit 2, nothing touched). False when no phrase is needed."""
    if not takes_nearly_all(count, total):
        return False
    if phrase is None and not yes and not as_json and sys.stdin.isatty():
        phrase = click.prompt(
            f"This deletes {count} of the collection's {total} vectors. "
            f'Type "{RESET_PHRASE}" to confirm',
            default="",
            show_default=False,
            err=True,
        )
    if phrase != RESET_PHRASE:
        raise ValidationError(
            f"this would delete {count} of the collection's {total} vectors: confirm it with "
            f'--confirm "{RESET_PHRASE}", as a reset; nothing was deleted',
            count=count,
            total=total,
        )
    return True


def _confirm(
    state: State,
    question: str,
    yes: bool,
    as_json: bool,
    preview_doc: Any,
    verb: str = "deleted",
) -> None:
    """Ask on a terminal; refuse (exit 1, nothing touched) on a script without --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        if as_json:
            emit_json({f"{verb}_count": 0, "refused": "not confirmed", **preview_doc})
        stderr.print(
            f"not confirmed: stdin is not a terminal and --yes was not given; nothing {verb}"
        )
        sys.exit(1)
    if not click.confirm(question, default=False, err=True):
        stderr.print(f"cancelled; nothing {verb}")
        sys.exit(1)


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
    shown = _print_preview(state, target, as_json)
    if expect is not None and expect != shown.count:
        raise SelectionChanged(
            f"{target}: --expect {expect}, but {shown.count} vectors are selected now; "
            "nothing was deleted"
        )
    if shown.count == 0:
        result = service.delete(target, reason=reason)
    else:
        if not (shown.needs_phrase and _phrase(shown.count, shown.total, phrase, yes, as_json)):
            _confirm(
                state, f"Delete {shown.count} vectors ({target})?", yes, as_json, shown.as_dict()
            )
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
        _print_deleted(result.deleted_count, result.log_id, result.backup)
    if result.deleted_count:
        _upkeep_note(state)


def _print_deleted(count: int, log_id: int | None, backup: str | None) -> None:
    if log_id is None:
        stdout.print("nothing matched; nothing deleted, no audit entry written")
        return
    stdout.print(f"deleted [bold]{count}[/] vectors (audit entry {log_id})")
    if backup:
        stdout.print(
            f"backup: {escape(backup)}  (undo: vectorctl restore {log_id})", highlight=False
        )


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
        return
    stdout.print(f"[bold]{found.count}[/] orphan vectors among {found.scanned} scanned")
    for o in found.orphans[:20]:
        stdout.print(
            f"  {o.id}  asset {escape(str(o.asset_id))}  {escape(str(o.path))}", highlight=False
        )
    if found.count > 20:
        stdout.print(f"  … and {found.count - 20} more (--json lists all)")


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
    typed = _phrase(found.count, found.scanned, phrase, yes, as_json)
    if found.count and not typed:
        _confirm(
            state, f"Delete {found.count} orphan vectors?", yes, as_json, {"count": found.count}
        )
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
        _print_deleted(result.deleted_count, result.log_id, result.backup)


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
        stdout.print(
            f"collection reset: {result.deleted_count} vectors removed "
            f"(audit entry {result.log_id})"
        )
        if result.snapshot:
            stdout.print(f"server snapshot: {escape(result.snapshot)}")
        if result.backup:
            stdout.print(f"backup: {escape(result.backup)}", highlight=False)


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
        return
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
        stdout.print(
            escape(
                f"entry {log_id}: {entry.deletion_type} {entry.deletion_target}, "
                f"{entry.vector_count} vectors, backup {entry.backup}"
            ),
            highlight=False,
            markup=False,
        )
    warnings = service.changes_since(log_id)
    for warning in warnings:
        stderr.print(Text.assemble(("warning:", "bold yellow"), " ", warning), highlight=False)
    _confirm(
        state,
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
        removed = f", removed {result.removed_count}" if result.removed_count else ""
        stdout.print(
            f"restored {result.restored_count} vectors{removed} (audit entry {result.log_id})"
        )
        if result.backup:
            stdout.print(
                f"what it overwrote: {result.backup}  (undo: vectorctl restore {result.log_id})",
                highlight=False,
                markup=False,
            )
    _upkeep_note(state)


def _upkeep_note(state: State) -> None:
    """After a bulk write: say so when the store should be optimised now."""
    upkeep = state.service.upkeep()
    if upkeep.optimize_due:
        notice_line(
            f"optimize due: {'; '.join(upkeep.reasons)}; run `vectorctl store optimize` to "
            "put the store back in its fast layout"
        )


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
    _print_backups(state.service.backups(), as_json)


def _print_backups(infos: list[BackupInfo], as_json: bool) -> None:
    if as_json:
        emit_json([i.as_dict() for i in infos])
        return
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


def _bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


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
    _print_backups(infos, as_json)
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
        _print_backups(due, as_json=False)
    if due:
        _confirm(
            state,
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
    elif result.log_id is None:
        stdout.print("no archive is due; nothing removed")
    else:
        stdout.print(
            f"removed {result.pruned} archives ({_bytes(result.bytes)}, the backups of "
            f"{result.points} points; audit entry {result.log_id})"
        )


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
        for change in changes:
            stdout.print(f"  {escape(change)}")
        stdout.print("database is up to date" + (f" ({len(changes)} changes)" if changes else ""))


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
        stdout.print(
            f"backfilled {result.updated} points ({result.skipped} without a path)"
            + ("; optimized the store" if result.optimized else "")
        )


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
    elif result.optimized:
        stdout.print(
            f"optimized {result.points} points in {result.seconds:.1f} s: "
            f"{result.segments_before} segments before, {result.segments_after} now; "
            f"the store opens in {result.open_seconds:.2f} s"
        )
    else:
        stdout.print(f"nothing to optimize: the store opens in {result.open_seconds:.2f} s")


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
        stdout.print(
            escape(f"copied {result.copied} points from {result.source} to {result.target}")
            + ("; optimized the target" if result.optimized else "")
        )


# -- ingest, queue and retrain -------------------------------------------------------------


def _print_result(result: Any, as_json: bool, text: str) -> None:
    if as_json:
        emit_json(result.as_dict())
    else:
        stdout.print(text, markup=False, highlight=False)


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
    _print_result(
        result,
        as_json,
        f"{result.found} images found, {result.registered} registered, {result.skipped} known; "
        f"{result.queued} jobs queued"
        + (f" in session {result.session_id}" if result.session_id else "")
        + " (run `vectorctl worker`)",
    )


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

    def holder_text(holder: JobHolder) -> str:
        if holder.alive:
            held = "running on this host"
        elif holder.lease_expires_at is not None:
            held = f"lease until {holder.lease_expires_at:%H:%M:%S} UTC"
        else:
            held = "no lease: not a vectorctl worker, never reclaimed"
        return f"{holder.worker_id or 'unnamed'}: {holder.jobs} jobs, {held}"

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
                + "; ".join(holder_text(h) for h in result.holders)
                + ")"
                + (
                    f"; they will be reclaimed at {result.held_until:%Y-%m-%d %H:%M:%S} UTC "
                    "if those workers are gone"
                    if result.held_until
                    else ""
                )
            )
        for line in said:
            stdout.print(line, markup=False, highlight=False)
    if result.embedded:
        _upkeep_note(state)
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
        for p in previews:
            stdout.print(
                f"{escape(p.target.value)}: [bold]{p.count}[/] vectors will be deleted "
                "and re-embedded",
                highlight=False,
            )
    typed = _phrase(shown.count, shown.total, phrase, yes, as_json)
    if not typed:
        _confirm(
            state,
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
    _print_result(
        result,
        as_json,
        f"deleted {result.deleted_count} vectors, reset {result.sessions_reset} sessions, "
        f"queued {result.queued} jobs in session {result.session_id}"
        + (
            f"; embedded {result.embedded}, failed {result.failed}"
            if wait
            else " (run `vectorctl worker`)"
        ),
    )
    if wait:
        _upkeep_note(state)
    if wait and result.cancelled:
        sessions = ", ".join(str(i) for i in result.session_ids)
        error_line(
            f"stopped before the end: {result.remaining} jobs of session {sessions} are still "
            "queued; run them with `vectorctl worker` (or w on the console's Sessions screen)",
            as_json=False,  # the result above is the one JSON document
            exit_code=1,
        )
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
            stderr.print(
                f"building the demo library in {escape(str(directory))} "
                "(OpenCLIP with random weights: not a trained model)"
            )
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
    embedded = f"{result.embedded} embedded now, " if result.created else ""
    _print_result(
        result,
        as_json,
        ("built:" if result.created else "already built:")
        + f" {result.images} images, {result.vectors} vectors, {embedded}"
        f"{result.failed} failed, {result.deletions} audited deletions, "
        f"{result.orphan_vectors} orphan vectors, {result.missing_vectors} missing vectors, "
        f"weights {result.weights} ({result.seconds:.0f} s). "
        f"Reopen with: {shlex.join(reopen)}",
    )
    if not (no_open or as_json):
        from tui.app import run_app

        _require_terminal("opening the demo in the console (--no-open builds only)")
        log_setup.configure(settings.data_dir, verbose=state.verbose, to_stderr=False)
        run_app(settings)


# -- drift between the database and the store ----------------------------------------------

DRIFT_EXIT = 4  # the drift rate is above --max-rate
kind_option = click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(KINDS),
    help="Compare only this kind (repeatable; default all).",
)
under_option = click.option("--under", help="Only what lies in this directory, by either side.")
SHOWN = 20  # sample lines and directories printed; --json has them all


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
            _print_estimate(estimate)
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
            _print_drift(report)
        rate, limit = report.rate, max_rate
    if limit is not None and rate > limit:
        if not as_json:
            stderr.print(
                f"payload drift {_percent(rate)} is above --max-rate {_percent(limit)}",
                markup=False,
                highlight=False,
            )
        sys.exit(DRIFT_EXIT)


def _print_drift(report: DriftReport) -> None:
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
    _print_drift_directories(report)
    _print_drift_samples(report.samples)


DRIFT_MEANING = {
    "path": "payload path is not the asset's path",
    "category": "payload category is not the embedding session's",
    "faces": "faces: payload person_id is not face_instances'",
    "missing": "assets without a vector",
    "orphans": "vectors without an asset",
    "faces-missing": "face rows without a point",
    "faces-orphans": "face points without a row",
}


def _print_drift_directories(report: DriftReport) -> None:
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


def _print_drift_samples(samples: list[DriftItem]) -> None:
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


def _value(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _percent(rate: float) -> str:
    return f"{rate:.3%}"


def _print_estimate(estimate: DriftEstimate) -> None:
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
    _print_drift_samples(estimate.samples)


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
        stdout.print(
            f"[bold]{plan.count:,}[/] points will be set from the database ("
            + ", ".join(f"{k} {n:,}" for k, n in plan.report.counts.items())
            + ")"
        )
        _print_drift_samples([s for s in plan.report.samples if s.kind in PAYLOAD_KINDS])
    if plan.count:
        _confirm(
            state,
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
        return
    if not result.entries:
        stdout.print("no payload drift; nothing changed, no audit entry written")
    for entry in result.entries:
        stdout.print(
            f"repaired {entry.changed:,} points of {entry.collection} (audit entry "
            f"{entry.log_id}); backup {entry.backup}  (undo: vectorctl restore {entry.log_id})",
            markup=False,
            highlight=False,
        )


# -- collections, health, search, export and snapshots ------------------------------------


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


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


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
        return
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
            _count(row.points),
            vectors,
            _status_text(row.status if row.exists else "missing"),
            _count(row.segments),
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
        return
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
            Text(index.field), Text(kind), _count(index.points), state_text, index.needed_for or ""
        )
    stdout.print(table)
    if row.missing_indexes:
        stdout.print(
            f"{len(row.missing_indexes)} missing: `vectorctl indexes create` creates them",
            markup=False,
        )


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
            stdout.print("no payload index is missing; nothing created")
        return
    if not as_json:
        stdout.print(
            Text(
                f"will create payload indexes on {', '.join(missing)} "
                f"of {service.settings.collection}"
            )
        )
    _confirm(
        state,
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
    _print_result(
        result,
        as_json,
        f"created payload indexes {', '.join(result.created)} (audit entry {result.log_id})",
    )


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
        return
    if not report.aliases_supported:
        stdout.print(f"the {report.store} store has no collection aliases", markup=False)
        return
    if not report.aliases:
        stdout.print("no aliases")
    for alias, collection in sorted(report.aliases.items()):
        stdout.print(Text(f"{alias} -> {collection}"))


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
        old = (
            f"{preview.previous} ({_count(preview.old_points)} points, size {preview.old_size})"
            if preview.previous
            else "nothing (a new alias)"
        )
        stdout.print(Text(f"alias {alias}: {old}"))
        stdout.print(
            Text(
                f"  -> {collection} ({_count(preview.new_points)} points, size {preview.new_size})"
            )
        )
        if preview.new_points == 0:
            stdout.print(Text(f"warning: {collection} holds no points", style="bold yellow"))
    _confirm(
        state,
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
    undo = f" (undo: vectorctl aliases switch {alias} {result.previous})" if result.previous else ""
    _print_result(
        result,
        as_json,
        f"alias {alias} now points at {collection} (audit entry {result.log_id}){undo}",
    )


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
    sys.exit(report.exit_code)


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
        return
    stdout.print(Text(f"{result.point_id}  {result.path or '-'}", style="bold"))
    for n in result.neighbours:
        stdout.print(Text(f"  {n.score:8.4f}  {n.id}  {n.path or '-'}"))
    if not result.neighbours:
        stdout.print("  no other point in the collection")


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
    stderr.print(
        Text(
            f"exported {result.points:,} points of {result.collection}"
            + (f" under {result.under}" if result.under else "")
            + (f" to {output}" if output else "")
        )
    )


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
        return
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
            _count(r.points),
        )
    stdout.print(table)


@snapshots.command("create")
@json_option
@pass_state
@command
def snapshots_create(state: State, as_json: bool) -> None:
    """Take a snapshot of the collection now."""
    with progress_bars(not as_json) as (progress, _cancel):
        row = state.service.create_snapshot(progress=progress)
    _print_result(row, as_json, f"snapshot {row.name} ({_bytes(row.size or 0)}) at {row.where}")


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
        stdout.print(Text(f"downloaded {name} to {path}"))


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
        if not sys.stdin.isatty():
            if as_json:
                emit_json({"restored": False, "refused": "not confirmed"})
            stderr.print(
                "not confirmed: give --confirm with the collection's name; nothing restored"
            )
            sys.exit(1)
        info = service.info()
        stderr.print(
            Text(
                f"This replaces every point of {collection} ({_count(info.points)} now) "
                f"with snapshot {name or file}."
            )
        )
        typed = click.prompt(
            "Type the collection's name to confirm", err=True, default="", show_default=False
        )
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
        return
    stdout.print(
        Text(
            f"restored {result.collection} from {result.snapshot}: {_count(result.points_before)} "
            f"points before, {_count(result.points_after)} now (audit entry {result.log_id})"
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
    _confirm(
        state,
        f"Delete snapshot {name} for good?",
        yes,
        as_json,
        {"snapshot": row.as_dict()},
    )
    result = service.delete_snapshot(name, reason=reason)
    _print_result(result, as_json, f"deleted snapshot {name} (audit entry {result.log_id})")


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
    live = service.settings.collection
    if not as_json:
        stdout.print(
            Text(
                f"{', '.join(prefixes)}: every image is embedded again into {into} "
                f"({service.settings.clip_model}); {live} is not changed"
            )
        )
    _confirm(
        state,
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
    _print_result(
        result,
        as_json,
        f"embedded {result.embedded} of {result.queued} images into {into}, failed "
        f"{result.failed}"
        + (" (stopped: run it again)" if result.cancelled else "")
        + f" (audit entry {result.log_ids[0]}). Check it: vectorctl --collection {into} "
        f"similar ID, vectorctl --collection {into} health; then vectorctl aliases switch "
        f"ALIAS {into}",
    )
    if result.cancelled or (result.failed and not result.embedded):
        sys.exit(1)


def main() -> None:
    cli(prog_name="vectorctl")
