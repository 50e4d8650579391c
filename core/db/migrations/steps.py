"""Additive schema steps found by inspection, so one revision fits every starting state.

A service database may or may not already have vectorctl's tables and columns (the service's
own migration 008 adds some of them); instead of assuming a starting point, a revision
compares its explicit table definitions with the live database and adds only what is
missing. Existing tables, columns and rows are never altered, dropped or rewritten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from vectorctl.core.errors import SchemaOutOfDate


@dataclass(frozen=True)
class Step:
    """One missing piece: how `pending_changes` and `upgrade` name it, and how to add it."""

    todo: str
    done: str
    apply: Callable[[], None]


def apply(steps: list[Step]) -> None:
    """A revision's `upgrade`: run its steps, each recorded for `vectorctl db upgrade`'s report."""
    for step in steps:
        step.apply()
        context.config.attributes["changes"].append(step.done)


def refuse_downgrade() -> None:
    """Every revision's `downgrade`."""
    raise NotImplementedError("vectorctl never drops schema: restore a database backup instead")


def missing_steps(connection: sa.Connection, schema: sa.MetaData) -> list[Step]:
    """Steps that bring the database up to `schema`: missing tables, columns and indexes."""
    inspector = sa.inspect(connection)
    existing = set(inspector.get_table_names())
    steps: list[Step] = []
    for table in schema.sorted_tables:
        if table.name not in existing:
            steps.append(create_table(table))
            continue
        columns = {column["name"] for column in inspector.get_columns(table.name)}
        steps += [add_column(table, c) for c in table.columns if c.name not in columns]
        indexes = inspector.get_indexes(table.name)
        names = {index["name"] for index in indexes}
        # An index the service created under another name serves just as well.
        covered = {tuple(index["column_names"]) for index in indexes}
        steps += [
            create_index(table.name, index)
            for index in sorted(table.indexes, key=lambda index: str(index.name))
            if index.name not in names and tuple(c.name for c in index.columns) not in covered
        ]
    return steps


def create_table(table: sa.Table) -> Step:
    return Step(
        f"create table {table.name}",
        f"created table {table.name}",
        lambda: table.create(op.get_bind()),  # with its indexes
    )


def add_column(table: sa.Table, column: sa.Column[Any]) -> Step:
    name = f"{table.name}.{column.name}"
    default = column.server_default
    if not column.nullable and default is None:
        # Existing rows would violate NOT NULL: the table predates the service's own schema.
        raise SchemaOutOfDate(
            f"column {name} is missing and cannot be added to existing rows: "
            "bring the image-search service's own schema up to date first"
        )

    def apply() -> None:
        if isinstance(default, sa.DefaultClause) and not isinstance(default.arg, str):
            # An expression such as now() would stamp every existing row with the time of
            # the upgrade: existing rows stay NULL, only new rows get the default. SQLite
            # cannot add an expression default to an existing table, so there they stay NULL.
            op.add_column(table.name, sa.Column(column.name, column.type, nullable=True))
            if op.get_bind().dialect.name != "sqlite":
                op.alter_column(table.name, column.name, server_default=default)
        else:
            op.add_column(table.name, column)  # a constant default fills existing rows

    return Step(f"add column {name}", f"added column {name}", apply)


def create_index(table: str, index: sa.Index) -> Step:
    name, columns = str(index.name), [column.name for column in index.columns]
    on = f"{table} ({', '.join(columns)})"
    return Step(
        f"create index {name} on {on}",
        f"created index {name} on {on}",
        lambda: op.create_index(name, table, columns, unique=index.unique),
    )
