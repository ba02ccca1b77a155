"""Several shared-cache reads in one round trip, for code that makes them one at a time.

A send reads its API key, its template and its user's preferences through three selectors, each
with its own key and its own fallback to the database. The rate limiter's middleware, which makes a
Redis round trip for every API request anyway, reads those entries in the same round trip (the key's,
and what the view names in ``ApiView.read_ahead``) and hands them on with ``prefetched_values``;
``prefetched(keys)`` reads any that are not there yet in one ``get_many``. Inside either block,
``cached(key)`` answers from what was read, once per key; everywhere else ``cached`` is
``cache.get``. Only reads are affected: writes and deletes still go to the cache itself.
"""

import contextlib
import contextvars
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

_prefetched: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("prefetched", default=None)
_MISSING = object()


@contextlib.contextmanager
def prefetched(keys: Iterable[str]) -> Iterator[None]:
    """Within the block, `cached(key)` for these keys answers from one read made now (none at all for
    keys an enclosing block has already read ahead)."""
    ahead = _prefetched.get() or {}
    missing = [key for key in keys if key not in ahead]
    try:
        found = cache.get_many(missing) if missing else {}
    except Exception as err:  # nothing is read ahead: each reader meets the cache (and its outage) itself
        logger.warning("cache read-ahead skipped: the cache is unavailable", extra={"error": type(err).__name__})
        missing, found = [], {}
    with prefetched_values({key: found.get(key) for key in missing}):
        yield


@contextlib.contextmanager
def prefetched_values(values: Mapping[str, Any]) -> Iterator[None]:
    """Within the block, `cached(key)` answers from values the caller read itself: key -> value,
    None for a key that was absent. Blocks nest; a value read once is gone for the enclosing ones too."""
    outer = _prefetched.get()
    if outer is None:
        token = _prefetched.set(dict(values))
        try:
            yield
        finally:
            _prefetched.reset(token)
        return
    added = [key for key in values if key not in outer]
    outer.update(values)
    try:
        yield
    finally:
        for key in added:  # what this block read and nobody used ends with it
            outer.pop(key, None)


def cached(key: str) -> Any:
    """The cache's value for `key` (None when absent); a prefetched value answers once, since the
    reader may fill the key from the database before it reads it again."""
    values = _prefetched.get()
    value = values.pop(key, _MISSING) if values is not None else _MISSING
    return cache.get(key) if value is _MISSING else value


# The shared cache as a speed-up: the read-through caches (kit.rowcache, the webhook endpoints) read, write and
# forget through these, so an unreachable cache is a miss, a skipped write and a logged error, never a failure.


def cached_or_none(keys: Iterable[str]) -> dict[str, Any]:
    """`cached(key)` for each key (absent ones left out), or nothing at all when the cache cannot be reached."""
    try:
        found = {key: cached(key) for key in keys}
    except Exception as err:
        logger.warning("cache unavailable: reading from the database", extra={"error": type(err).__name__})
        return {}
    return {key: value for key, value in found.items() if value is not None}


def cache_remember(values: Mapping[str, Any], seconds: int) -> None:
    """Store entries for later readers; skipped (and logged) when the cache cannot be reached."""
    try:
        cache.set_many(dict(values), seconds)
    except Exception as err:
        logger.warning("cache unavailable: entries not stored", extra={"error": type(err).__name__})


def cache_forget(keys: Iterable[str]) -> None:
    """Drop the entries of changed rows now, and again once the change commits: a reader in between may have
    put the old row back. An unreachable cache is logged as an error (its entries expire on their own)."""
    keys = list(keys)

    def forget() -> None:
        try:
            cache.delete_many(keys)
        except Exception as err:
            logger.error("could not clear changed entries from the cache", extra={"error": type(err).__name__})

    if keys:
        forget()
        transaction.on_commit(forget)
