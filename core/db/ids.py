"""How large an id the connected database can hold in a given id column.

An id beyond it names no row, but asking for it is an error (PostgreSQL: "integer out of
range", SQLite: an OverflowError before the query is sent), so callers check first. The
limit is the column's real type: the model says `Integer`, but a service database may
declare `bigint`, and SQLite stores any integer in up to 8 bytes whatever it declares.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Connection, Integer, SmallInteger, inspect

INT64_MAX = 2**63 - 1


def max_id(connection: Connection, table: str, column: str = "id") -> int:
    """The largest value `table.column` can hold (a 64-bit ceiling for unknown types)."""
    if connection.dialect.name == "sqlite":
        return INT64_MAX
    for info in inspect(connection).get_columns(table):
        if info["name"] == column:
            declared = info["type"]
            if isinstance(declared, BigInteger):
                return INT64_MAX
            if isinstance(declared, SmallInteger):
                return 2**15 - 1
            if isinstance(declared, Integer):
                return 2**31 - 1
    return INT64_MAX
