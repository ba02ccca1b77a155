"""`AnyOf`: a column among many values, passed as one array on PostgreSQL.

`filter(user_id__in=ids)` writes one placeholder per value; with the 2,000 ids of a bulk or trigger chunk,
building that statement and psycopg's parsing of it cost more than running it. `AnyOf(F("user_id"), ids)`
writes `user_id = ANY(%s)` with the ids as one array parameter (the same index scan), and plain `IN (...)`
on other databases.
"""

from collections.abc import Iterable
from typing import Any

from django.db.models import Lookup
from django.db.models.lookups import In


class AnyOf(Lookup):
    lookup_name = "any_of"
    prepare_rhs = False

    def __init__(self, lhs: Any, rhs: Iterable[Any]) -> None:
        super().__init__(lhs, list(rhs))

    def as_sql(self, compiler, connection) -> tuple[str, list[Any]]:
        if connection.vendor != "postgresql":
            return In(self.lhs, self.rhs).as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, self.rhs]
