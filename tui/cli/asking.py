"""Asking before a change, the same way for every command that deletes, replaces or switches:
a script must give --yes (or --confirm with the reset phrase or the collection's name) up
front, since nobody is there to answer, and a refusal touches nothing."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.text import Text

from vectorctl.core.errors import ValidationError
from vectorctl.core.service import VectorService
from vectorctl.core.settings import RESET_PHRASE
from vectorctl.core.validation import takes_nearly_all
from vectorctl.tui.cli.render import number
from vectorctl.tui.output import emit_json, stderr

confirm_option = click.option(
    "--confirm",
    "phrase",
    metavar="PHRASE",
    help=f'"{RESET_PHRASE}": needed (instead of --yes) when this takes all, or nearly all, '
    "of the collection's vectors.",
)


def reset_phrase(
    count: int, total: int | None, phrase: str | None, yes: bool, as_json: bool
) -> bool:
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


def confirm(
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


def collection_name(service: VectorService, snapshot: str, as_json: bool) -> str:
    """A snapshot restore replaces every point at once, so it is confirmed by typing the
    collection's name (a script gives it as --confirm NAME; without it, it is refused)."""
    collection = service.settings.collection
    if not sys.stdin.isatty():
        if as_json:
            emit_json({"restored": False, "refused": "not confirmed"})
        stderr.print("not confirmed: give --confirm with the collection's name; nothing restored")
        sys.exit(1)
    info = service.info()
    stderr.print(
        Text(
            f"This replaces every point of {collection} ({number(info.points)} now) "
            f"with snapshot {snapshot}."
        )
    )
    typed: str = click.prompt(
        "Type the collection's name to confirm", err=True, default="", show_default=False
    )
    return typed
