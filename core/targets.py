"""What a destructive operation aims at, as the operator names it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TargetKind(StrEnum):
    DIRECTORY = "directory"
    ASSET = "asset"
    SESSION = "session"
    CATEGORY = "category"
    ORPHANS = "orphans"
    ALL = "all"


# The audit log's deletion_type for each target, as the image-search service names them.
DELETION_TYPES = {
    TargetKind.DIRECTORY: "DIRECTORY",
    TargetKind.ASSET: "ASSET",
    TargetKind.SESSION: "SESSION",
    TargetKind.CATEGORY: "CATEGORY",
    TargetKind.ORPHANS: "ORPHAN",
    TargetKind.ALL: "FULL_RESET",
}
# A retrain's delete of its directories' vectors; its row also records the embedding's end.
RETRAIN = "RETRAIN"
# The other audited changes, named here so that the audit filters know every one of them.
RESTORE = "RESTORE"
BACKUP_PRUNE = "BACKUP_PRUNE"  # archives removed by a retention rule
DRIFT_REPAIR = "DRIFT_REPAIR"  # payloads set from the database
PAYLOAD_INDEX = "PAYLOAD_INDEX"
ALIAS_SWITCH = "ALIAS_SWITCH"
RETRAIN_INTO = "RETRAIN_INTO"  # directories embedded into another collection (blue/green)
SNAPSHOT_RESTORE = "SNAPSHOT_RESTORE"
SNAPSHOT_DELETE = "SNAPSHOT_DELETE"
# Every deletion_type the audit log holds, for filters and their validation.
AUDIT_TYPES = (
    *DELETION_TYPES.values(),
    RETRAIN,
    "SESSION_RECORD",
    RESTORE,
    BACKUP_PRUNE,
    DRIFT_REPAIR,
    PAYLOAD_INDEX,
    ALIAS_SWITCH,
    RETRAIN_INTO,
    SNAPSHOT_RESTORE,
    SNAPSHOT_DELETE,
)


@dataclass(frozen=True)
class Target:
    """An operator's request, e.g. Target(TargetKind.DIRECTORY, "/photos/2024")."""

    kind: TargetKind
    value: str = ""
    more: tuple[str, ...] = ()  # further directories of one directory delete

    def __str__(self) -> str:
        if self.more:
            return f"directories {'; '.join(self.directories)}"
        return f"{self.kind.value} {self.value}".strip()

    @property
    def directories(self) -> tuple[str, ...]:
        return (self.value, *self.more)

    @classmethod
    def of_directories(cls, paths: list[str] | tuple[str, ...]) -> Target:
        """One delete of several directories (at least one)."""
        return cls(TargetKind.DIRECTORY, paths[0], tuple(paths[1:]))

    @classmethod
    def parse(cls, kind: str, value: str = "") -> Target:
        """From CLI words: `dir`/`directory`, `asset`, `session`, `category`."""
        aliases = {"dir": TargetKind.DIRECTORY}
        try:
            resolved = aliases.get(kind) or TargetKind(kind)
        except ValueError:
            from vectorctl.core.errors import ValidationError

            raise ValidationError(
                f"unknown target kind {kind!r}: use dir, asset, session or category"
            ) from None
        return cls(resolved, value)


def parse_id(what: str, value: str) -> int:
    """An id as an operator types it: ASCII digits 0-9 and nothing else.

    Python's int() also takes `1_0` (10), `+5`, ` 5` and other scripts' digits (`٣`); an id
    that is not written plainly is a typing mistake, never a request for another id.
    """
    if not (value.isascii() and value.isdigit()):
        from vectorctl.core.errors import ValidationError

        raise ValidationError(f"{what} id {value!r} is not a number (digits 0-9 only)")
    return int(value)
