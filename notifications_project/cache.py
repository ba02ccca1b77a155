"""Several shared-cache reads in one round trip, for code that makes them one at a time.

A send reads its template and its user's preferences through two selectors, each with its own
key and its own fallback to the database. Inside ``prefetched(keys)``, one ``get_many`` has
already fetched those keys, and ``cached(key)`` answers from it; everywhere else ``cached`` is
``cache.get``. Only reads are affected: writes and deletes still go to the cache itself.
"""

import contextlib
import contextvars
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.core.cache import cache

_prefetched: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("prefetched", default=None)
_MISSING = object()


@contextlib.contextmanager
def prefetched(keys: Iterable[str]) -> Iterator[None]:
    """Within the block, `cached(key)` for these keys answers from one read made now (none at all for
    keys an enclosing block has already read ahead)."""
    ahead = _prefetched.get() or {}
    missing = [key for key in keys if key not in ahead]
    found = cache.get_many(missing) if missing else {}
    with prefetched_values({key: found.get(key) for key in missing}):
        yield


@contextlib.contextmanager
def prefetched_values(values: Mapping[str, Any]) -> Iterator[None]:
    """Within the block, `cached(key)` answers from values the caller read itself: key -> value,
    None for a key that was absent."""
    token = _prefetched.set({**(_prefetched.get() or {}), **values})
    try:
        yield
    finally:
        _prefetched.reset(token)


def cached(key: str) -> Any:
    """The cache's value for `key` (None when absent); a prefetched value answers once, since the
    reader may fill the key from the database before it reads it again."""
    values = _prefetched.get()
    value = values.pop(key, _MISSING) if values is not None else _MISSING
    return cache.get(key) if value is _MISSING else value
