"""Statements the ORM makes too slowly on the hot paths, written once."""

from collections.abc import Sequence
from typing import Any

from django.db import connection


def rows_insert(*, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], suffix: str = "") -> None:
    """One `INSERT INTO table (columns) VALUES (...), (...)` of `rows`, values already prepared for the
    database, then `suffix` (an ON CONFLICT clause, say), in the current transaction (PostgreSQL and SQLite)."""
    if not rows:
        return
    row = f"({', '.join(['%s'] * len(columns))})"
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row] * len(rows))} {suffix}",
                       [value for values in rows for value in values])
