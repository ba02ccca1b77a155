"""Health probes: startup and live answer while the process runs; ready checks what serving needs."""

import functools
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

# Probes come every few seconds: a dependency that does not answer within this is "unavailable".
BROKER_TIMEOUT_SECONDS = 2


def _check_database(alias: str = DEFAULT_DB_ALIAS) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    cache.set("health:ready", "1", timeout=10)
    if cache.get("health:ready") != "1":
        raise RuntimeError("the cache did not return what was just stored")


def _check_broker() -> None:
    from notifications_project.celery import app

    # The URL from settings, not the app's cached configuration, so the probe sees what is configured.
    with app.connection_for_write(settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)


def dependency_checks() -> dict:
    checks = {"database": _check_database, "cache": _check_cache}
    if settings.DATABASE_REPLICA_ALIAS:
        checks["replica"] = functools.partial(_check_database, settings.DATABASE_REPLICA_ALIAS)
    if settings.CELERY_BROKER_URL:
        checks["broker"] = _check_broker
    return checks


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


startup = live


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """200 when every dependency answers; 503 naming each one that does not."""
    results, failed = {}, False
    for name, check in dependency_checks().items():
        started = time.perf_counter()
        try:
            check()
            results[name] = "ok"
        except Exception as err:  # any failure of a dependency means "not ready", whatever its type
            failed = True
            results[name] = f"unavailable: {type(err).__name__}"
            logger.warning("readiness check failed", extra={
                "dependency": name, "error": type(err).__name__,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
    return JsonResponse({"status": "unavailable" if failed else "ok", "checks": results},
                        status=503 if failed else 200)
