"""How paths are shown in a terminal that may be 80 columns wide: relative to the library's
root (or to a delete's target), shortened in the middle at a directory boundary, never
wrapped inside a file name."""

from __future__ import annotations

ELLIPSIS = "…"


def relative(path: str, root: str | None) -> str:
    """`path` as seen from `root`: `2024/trip` under `/srv/photos`; the root itself and
    paths elsewhere stay whole."""
    if root and root != "/" and path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1 :]
    return path


def shorten(path: str, width: int) -> str:
    """`path` in at most `width` cells: whole when it fits, else its first segment, an
    ellipsis and as many trailing segments as fit (`/srv/…/2024/trip/a.jpg`); when not even
    the last segment fits that way, the whole is cut in its middle."""
    if len(path) <= width:
        return path
    parts = path.split("/")
    cut = 2 if path.startswith("/") else 1
    head, rest = "/".join(parts[:cut]), parts[cut:]
    for start in range(1, len(rest)):
        for prefix in (f"{head}/{ELLIPSIS}/", f"{ELLIPSIS}/"):
            candidate = prefix + "/".join(rest[start:])
            if len(candidate) <= width:
                return candidate
    return _cut_middle(path, width)


def _cut_middle(text: str, width: int) -> str:
    if width <= 1:
        return ELLIPSIS[:width]
    keep = width - 1
    front = keep // 2
    back = keep - front
    return text[:front] + ELLIPSIS + (text[-back:] if back else "")


def shown(path: str, root: str | None, width: int) -> str:
    """Relative to `root`, then shortened to `width`."""
    return shorten(relative(path, root), width)
