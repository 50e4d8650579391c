"""Path conditions in SQL that mean what `core.paths.is_under` means in Python.

LIKE cannot say it: SQLite's LIKE ignores ASCII case (`/lib/PHOTOS/b` would select
`/lib/photos/b`), and on either database `_` and `%` in a path would need escaping. A
comparison of the leading characters is exact and case-sensitive on both. The database
measures the prefix itself (`length`, in the units its `substr` counts: characters in UTF-8
databases, bytes in PostgreSQL's SQL_ASCII), so a non-ASCII directory is cut where its name
ends whatever the encoding.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, SQLColumnExpression, func


def inside(column: SQLColumnExpression[str], directory: str) -> ColumnElement[bool]:
    """Rows whose path lies inside `directory` at any depth (not `/a/b-old/x` for `/a/b`)."""
    prefix = directory.rstrip("/") + "/"
    return func.substr(column, 1, func.length(prefix)) == prefix
