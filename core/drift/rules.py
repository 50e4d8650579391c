"""What counts as drift: the kinds, and what each point's payload should say according to
the database (the source of truth), as pure functions of one point and its row.

A finding names the field that disagrees, both values, and the fields a repair sets
(`values`, None removing a field) with the values it expects to find there (`previous`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vectorctl.core.errors import ValidationError
from vectorctl.core.paths import ancestor_dirs, parent_dir
from vectorctl.core.store.base import F_CATEGORY_ID, F_DIR, F_DIRS, F_PATH

PATH = "path"  # payload `path` (or `dir`) is not the asset's path
CATEGORY = "category"  # payload `category_id` is not the embedding session's category
FACES = "faces"  # payload `person_id` of a face point is not its face_instances row's
MISSING = "missing"  # an asset without a vector
ORPHANS = "orphans"  # a vector without an asset
FACES_MISSING = "faces-missing"  # a face row whose point is not in the faces collection
FACES_ORPHANS = "faces-orphans"  # a face point without a face row

KINDS = (PATH, CATEGORY, FACES, MISSING, ORPHANS, FACES_MISSING, FACES_ORPHANS)
# Kinds a repair sets from the database; the others are counted (orphans are cleaned and
# missing vectors embedded by their own commands).
PAYLOAD_KINDS = (PATH, CATEGORY, FACES)
IMAGE_KINDS = (PATH, CATEGORY, MISSING, ORPHANS)
FACE_KINDS = (FACES, FACES_MISSING, FACES_ORPHANS)

# The faces collection's fields (reference 002); `is_assigned`, where a point has it, is the
# service's sentinel of `person_id` being set.
F_PERSON_ID = "person_id"
F_IS_ASSIGNED = "is_assigned"


def parse_kinds(names: Iterable[str] | None, allowed: tuple[str, ...] = KINDS) -> tuple[str, ...]:
    """The kinds asked for, in their canonical order; every allowed kind when none is named."""
    chosen = set(names or allowed)
    unknown = sorted(chosen - set(allowed))
    if unknown:
        raise ValidationError(f"unknown drift kind {unknown[0]!r}: use {', '.join(allowed)}")
    return tuple(k for k in allowed if k in chosen)


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    field: str
    database: Any  # what the database says (None: nothing)
    payload: Any  # what the payload says (None: absent)
    values: dict[str, Any]  # fields a repair sets; None removes the field
    previous: dict[str, Any]  # those fields as they are now, where they were read


def path_finding(payload: dict[str, Any], path: str) -> Finding | None:
    """`path` must be the asset's; a point that has `dir` must have the path's directory
    there, and a repair that changes `dir` writes `dirs` with it (vectorctl writes the two
    together, the service neither). A null `dir` counts as none."""
    have, held = payload.get(F_PATH), payload.get(F_DIR)
    if have == path and (held is None or held == _parent(path)):
        return None  # the common case, once per point: nothing to build
    values: dict[str, Any] = {}
    previous: dict[str, Any] = {}
    if have != path:
        values[F_PATH], previous[F_PATH] = path, have
    directory = _parent(path)
    if held is not None and held != directory:
        values[F_DIR], previous[F_DIR] = directory, held
        values[F_DIRS] = ancestor_dirs(path)
    if F_PATH in values:
        return Finding(PATH, F_PATH, path, have, values, previous)
    return Finding(PATH, F_DIR, directory, held, values, previous)


def _parent(path: str) -> str:
    """`parent_dir`, by slicing where the path is plain (this runs once per point)."""
    cut = path.rfind("/")
    if cut > 0 and path[cut - 1] != "/" and cut < len(path) - 1:
        return path[:cut]
    return parent_dir(path)


def wanted_category(
    have: Any, session_category: int | None, known: bool, categories: frozenset[int]
) -> Any:
    """The `category_id` a point should carry: its embedding session's category while that
    category exists, else none. When no completed job says which session embedded the asset,
    only a category that no longer exists is wrong."""
    if known:
        return session_category if session_category in categories else None
    if type(have) is int and have not in categories:
        return None
    return have


def category_finding(payload: dict[str, Any], want: Any) -> Finding | None:
    have = payload.get(F_CATEGORY_ID)
    if have == want and type(have) is type(want):  # 5 and "5" differ; None and None agree
        return None
    return Finding(
        CATEGORY, F_CATEGORY_ID, want, have, {F_CATEGORY_ID: want}, {F_CATEGORY_ID: have}
    )


def canonical_uuid(value: Any) -> str | None:
    """A UUID as Qdrant and the service write it (lower-case, hyphenated), from whatever a
    database driver returns (uuid.UUID, 32 or 36 hex characters, 16 bytes)."""
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return str(uuid.UUID(bytes=bytes(value)))
    return str(uuid.UUID(str(value)))


def _person(value: Any) -> Any:
    """A payload's person id compared by meaning: another spelling of the same UUID agrees."""
    if isinstance(value, str):
        try:
            return canonical_uuid(value)
        except ValueError:
            return value
    return value


def faces_finding(payload: dict[str, Any], person: str | None) -> Finding | None:
    """`person_id` must be the row's (absent when the row has none); `is_assigned`, where
    the point has it, must say whether it is set."""
    have = payload.get(F_PERSON_ID)
    values: dict[str, Any] = {}
    previous: dict[str, Any] = {}
    if _person(have) != person:
        values[F_PERSON_ID], previous[F_PERSON_ID] = person, have
    assigned = person is not None
    if F_IS_ASSIGNED in payload and payload[F_IS_ASSIGNED] is not assigned:
        values[F_IS_ASSIGNED], previous[F_IS_ASSIGNED] = assigned, payload[F_IS_ASSIGNED]
    if not values:
        return None
    if F_PERSON_ID in values:
        return Finding(FACES, F_PERSON_ID, person, have, values, previous)
    return Finding(FACES, F_IS_ASSIGNED, assigned, payload[F_IS_ASSIGNED], values, previous)
