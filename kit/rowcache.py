"""Rows read on every send, kept in the shared cache: one way to name, store, read and forget them.

A ``RowCache`` holds one model's rows by one lookup value: a template by its name, a user's preferences
by user id, an API key by its prefix. An entry is the row's column values in the model's field order,
and the hash of that field list is part of every key, so code that changed the table never reads an entry
written before the change. A field whose value is costly to store as it is (a parsed phone number) gets a
``Codec``. An entry can also say "no such row" (``remember_misses``), so made-up lookups stop at the cache.

Reads go through ``kit.cache.cached``, so an entry the rate limiter read ahead is used. The cache is a
speed-up: when it cannot be reached, a read is a miss, a write is skipped, and both are logged. A changed
row is forgotten at once and again after the commit, since a reader in between may have put the old row back.
"""

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, models

from .cache import cache_forget, cache_remember, cached_or_none

Row = TypeVar("Row", bound=models.Model)

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING", "__bool__": lambda self: False})()
"""What ``RowCache.get`` answers when the cache holds nothing for the lookup (None means "no such row")."""

_NO_ROW = "no-row"  # stored for a lookup with no row, when misses are remembered


@dataclass(frozen=True)
class Codec:
    """How one field's value is stored in an entry and read back."""

    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


class RowCache(Generic[Row]):
    def __init__(self, model: type[Row], *, name: str, seconds: int | Callable[[], int],
                 key: Callable[[Any], str] = str, codecs: dict[str, Codec] | None = None,
                 remember_misses: bool = False) -> None:
        self.model = model
        self.fields = tuple(field.attname for field in model._meta.concrete_fields)
        digest = hashlib.sha1(",".join(self.fields).encode()).hexdigest()[:8]
        self._prefix = f"{name}:{digest}:"
        self._seconds = seconds
        self._key = key
        self._codecs = [(self.fields.index(field), codec) for field, codec in (codecs or {}).items()]
        self._remember_misses = remember_misses

    def key(self, lookup: Any) -> str:
        """The cache key of the row found by `lookup` (for a caller that reads entries ahead)."""
        return self._prefix + self._key(lookup)

    def get(self, lookup: Any) -> Row | None | Any:
        """The cached row, None for a remembered "no such row", or MISSING when the cache cannot say."""
        key = self.key(lookup)
        entry = cached_or_none([key]).get(key)
        if entry is None:
            return MISSING
        if entry == _NO_ROW:
            return None if self._remember_misses else MISSING
        values = list(entry)
        for index, codec in self._codecs:
            values[index] = codec.decode(values[index])
        return self.model.from_db(DEFAULT_DB_ALIAS, self.fields, values)

    def remember(self, lookup: Any, row: Row | None) -> None:
        """Keep `row` (just read from the database; None for "no such row") for the next reader."""
        if row is None and not self._remember_misses:
            return
        entry: Any = _NO_ROW
        if row is not None:
            entry = [getattr(row, field) for field in self.fields]
            for index, codec in self._codecs:
                entry[index] = codec.encode(entry[index])
        cache_remember({self.key(lookup): entry}, self._seconds() if callable(self._seconds) else self._seconds)

    def read_through(self, lookup: Any, load: Callable[[], Row | None]) -> Row | None:
        """The cached row, or what `load()` reads from the database, remembered for the next reader."""
        row = self.get(lookup)
        if row is MISSING:
            row = load()
            self.remember(lookup, row)
        return row

    def forget(self, lookups: Iterable[Any]) -> None:
        """Drop the rows of changed lookups now and again once the change commits."""
        cache_forget(self.key(lookup) for lookup in lookups)
