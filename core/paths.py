"""Directory prefixes as the operator types them, and the ancestor lists stored on points.

A prefix names a directory, never a string prefix: `/photos/2024` covers
`/photos/2024/a.jpg` and `/photos/2024/x/b.jpg` but not `/photos/2024-old/c.jpg`.
"""

from __future__ import annotations

import posixpath

from vectorctl.core.errors import ValidationError


def normalize_prefix(prefix: str) -> str:
    """Validate an operator-typed directory and return it without a trailing slash.

    Refuses what would be a mistake to act on: empty, `/` (that is what reset is for),
    relative paths and `..` segments.
    """
    if prefix is None or not prefix.strip():
        raise ValidationError("directory prefix is empty: name a directory such as /photos/2024")
    if prefix != prefix.strip():
        raise ValidationError(f"directory prefix {prefix!r} has leading or trailing spaces")
    if not prefix.startswith("/"):
        raise ValidationError(f"directory prefix {prefix!r} is relative: it must start with /")
    segments = [s for s in prefix.split("/") if s]
    if not segments:
        raise ValidationError(
            "directory prefix '/' would select every vector: use `vectorctl reset` for that"
        )
    if any(s in ("..", ".") for s in segments):
        raise ValidationError(f"directory prefix {prefix!r} contains a '.' or '..' segment")
    return "/" + "/".join(segments)


def parent_dir(path: str) -> str:
    """The directory a file sits in (`/` for a file at the root)."""
    return posixpath.dirname(path.rstrip("/")) or "/"


def ancestor_dirs(path: str) -> list[str]:
    """Every directory above a file, outermost first, root excluded.

    `/photos/2024/trip/a.jpg` -> `['/photos', '/photos/2024', '/photos/2024/trip']`.
    Stored on points as an indexed keyword list, so per-directory counts and deletes are
    exact keyword matches instead of scans.
    """
    parts = [p for p in path.split("/") if p][:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def is_under(path: str, directory: str) -> bool:
    """True when the file `path` lies inside `directory` at any depth."""
    return path.startswith(directory.rstrip("/") + "/")


def depth(directory: str) -> int:
    """Number of segments: `/photos` is 1, `/photos/2024` is 2."""
    return len([p for p in directory.split("/") if p])


def directory_set(prefixes: list[str] | tuple[str, ...]) -> list[str]:
    """Operator-typed directories, validated, each once, in the order given; one inside
    another is refused (acting on the outer one already covers it)."""
    result = list(dict.fromkeys(normalize_prefix(p) for p in prefixes))
    for outer in result:
        for inner in result:
            if inner != outer and is_under(inner, outer):
                raise ValidationError(f"{inner} lies inside {outer}: name {outer} once")
    return result
