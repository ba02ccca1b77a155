"""Retention beyond the logs': an app hands the kit its purge, and `manage.py purge_logs` (the nightly CronJob)
runs every purge handed over, after the logs' own, so the kit and logs_app import no app above them."""

from collections.abc import Callable
from typing import Protocol


class RetentionPurge(Protocol):
    def __call__(self, *, batch: int, dry_run: bool) -> str:
        """Delete (or, with `dry_run`, count) what is past its keeping, `batch` rows per transaction; returns
        one line saying what was (or would be) deleted."""
        ...


_purges: list[RetentionPurge] = []


def retention_purge_add(purge: RetentionPurge) -> None:
    """Have purge_logs run `purge` (an app hands it over from its AppConfig.ready)."""
    if purge not in _purges:
        _purges.append(purge)


def retention_purges() -> list[RetentionPurge]:
    return list(_purges)
