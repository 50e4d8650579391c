"""Checks on free text an operator gives, made once for every interface.

A reason is stored in the audit log and shown in every table of it: it must fit there and
must not carry characters that a database refuses (PostgreSQL rejects NUL with a raw
driver error) or that a terminal would obey (escape sequences).
"""

from __future__ import annotations

import importlib.util
import re

from vectorctl.core.errors import ValidationError

EXPORT_FORMATS = ("jsonl", "parquet")
MAX_REASON = 2000  # characters; a paragraph, not a file
# A delete that takes this share of the collection (or more) is confirmed like a reset.
NEARLY_ALL = 0.9
# Control characters except tab and newline: C0, DEL and C1.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def check_reason(reason: str | None) -> str | None:
    """Return `reason` unchanged, or raise ValidationError before anything is touched."""
    if reason is None:
        return None
    if len(reason) > MAX_REASON:
        raise ValidationError(
            f"reason is {len(reason):,} characters long: at most {MAX_REASON:,} are allowed"
        )
    control = _CONTROL.search(reason)
    if control:
        raise ValidationError(
            f"reason contains the control character U+{ord(control.group()):04X}: "
            "use plain text (tabs and new lines are fine)"
        )
    return reason


def takes_nearly_all(count: int, total: int | None) -> bool:
    """Whether deleting `count` of the collection's `total` vectors empties it, or nearly:
    such a delete needs the typed confirmation of a reset, whatever its target."""
    return bool(total) and count > 0 and count >= NEARLY_ALL * (total or 0)


def check_export_format(format: str) -> None:
    """Refuse a format that cannot be written here, before anything is read."""
    if format not in EXPORT_FORMATS:
        raise ValidationError(f"format must be one of {', '.join(EXPORT_FORMATS)}, not {format!r}")
    if format == "parquet" and importlib.util.find_spec("pyarrow") is None:
        raise ValidationError(
            "--format parquet needs pyarrow, which is not installed with vectorctl: install "
            "pyarrow into vectorctl's environment, or export jsonl"
        )
    if format == "parquet":  # pyarrow present: still one format only until it is tested
        raise ValidationError("--format parquet is not implemented yet: export jsonl")
