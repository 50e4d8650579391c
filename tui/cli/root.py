"""What every command shares: the root group and its global options, the State they resolve
to, the wrapper that turns errors into one line and an exit code, and the parameter types
several commands take.

The command modules register themselves on `cli` here; none of them imports another.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from vectorctl.core.errors import ValidationError, VectorctlError
from vectorctl.core.service import VectorService
from vectorctl.core.settings import load_settings
from vectorctl.core.targets import parse_id
from vectorctl.tui import log_setup
from vectorctl.tui.global_options import GlobalOptionsGroup
from vectorctl.tui.output import Verbosity, error_line, notice_line

F = TypeVar("F", bound=Callable[..., Any])
TARGET_KINDS = click.Choice(["dir", "asset", "session", "category"])


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


def require_terminal(what: str) -> None:
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
    from vectorctl.tui.app import run_app

    require_terminal("the console")
    settings = state.service.settings
    log_setup.configure(settings.data_dir, verbose=state.verbose, to_stderr=False)  # it draws there
    status = run_app(settings)
    if status:
        sys.exit(status)
