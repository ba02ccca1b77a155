"""Prometheus metrics: what is counted, the /metrics view, and the worker's metrics endpoint."""

import datetime as dt
import hmac
import logging
from collections.abc import Iterator, Mapping

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# Delivery can wait for quiet hours or a provider's backoff, so the buckets reach a day.
DELIVERY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests answered, by route pattern and status.",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("http_request_duration_seconds", "Time to answer an HTTP request.",
                         ["method", "route", "status"])
NOTIFICATIONS_ACCEPTED = Counter("notifications_accepted_total", "Notifications accepted (logs written).",
                                 ["channel"])
NOTIFICATIONS = Counter("notifications_total", "Notifications that reached a status, by channel and provider.",
                        ["channel", "provider", "status"])
DELIVERY_LATENCY = Histogram("notification_delivery_seconds", "From acceptance to the provider taking it.",
                             ["channel", "provider"], buckets=DELIVERY_BUCKETS)
RETRIES = Counter("notification_retries_total", "Transient failures that scheduled another attempt.",
                  ["channel", "provider"])
FAILOVERS = Counter("notification_failovers_total", "Transient failures of a provider that handed the message "
                    "to the next one.", ["channel", "provider"])
RECEIPTS = Counter("notification_receipts_total", "Provider receipts that moved a log on.", ["provider", "status"])
RATE_LIMITED = Counter("ratelimit_rejections_total", "API requests refused with 429, by endpoint group.", ["group"])


def notification_accepted(*, channel: str, status: str, count: int = 1) -> None:
    if not count:
        return
    NOTIFICATIONS_ACCEPTED.labels(channel).inc(count)
    if status != "pending":  # born final: suppressed by preference, or no address in a bulk send
        NOTIFICATIONS.labels(channel, "", status).inc(count)


def notifications_accepted(*, channel: str, counts: Mapping[str, int]) -> None:
    """A bulk send's logs, by the status each was written with."""
    for status, count in counts.items():
        notification_accepted(channel=channel, status=str(status), count=count)


def notification_sent(*, channel: str, provider: str, accepted_at: dt.datetime | None) -> None:
    NOTIFICATIONS.labels(channel, provider, "sent").inc()
    if accepted_at is not None:
        DELIVERY_LATENCY.labels(channel, provider).observe(max(0.0, (timezone.now() - accepted_at).total_seconds()))


def notification_failed(*, channel: str, provider: str) -> None:
    NOTIFICATIONS.labels(channel, provider or "", "failed").inc()


def notification_retried(*, channel: str, provider: str) -> None:
    RETRIES.labels(channel, provider or "").inc()


def receipt_recorded(*, provider: str, status: str, changed: int) -> None:
    if changed:
        RECEIPTS.labels(provider, status).inc(changed)


def rate_limited(*, group: str) -> None:
    RATE_LIMITED.labels(group).inc()


def _count_failover(sender: object, *, channel: str, provider: str, **kwargs: object) -> None:
    FAILOVERS.labels(channel, provider).inc()


def connect_signals() -> None:
    """Listen to the channels' failover signal (channels know nothing of metrics)."""
    from notification_channels.base import provider_failed_over

    provider_failed_over.connect(_count_failover, dispatch_uid="metrics.failover")


# Collectors read at scrape time (the delivery backlog); an app adds its own from its AppConfig.ready.
_scrape_collectors: list[Collector] = []


def scrape_collector_add(collector: Collector) -> None:
    """Have the metrics view also yield what `collector` reads at each scrape."""
    if not any(type(known) is type(collector) for known in _scrape_collectors):
        _scrape_collectors.append(collector)


def _registry() -> CollectorRegistry:
    """All processes' metrics (gunicorn workers write to PROMETHEUS_MULTIPROC_DIR), or this one's."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


class _Scrape(Collector):
    """The counted metrics plus those read at scrape time, without registering anything per request."""

    def __init__(self, *sources: Collector | CollectorRegistry) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


def _authorised(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return settings.DEBUG  # no token: open while developing, closed otherwise
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; 404 unless the bearer token matches METRICS_TOKEN (or DEBUG without one)."""
    if not _authorised(request):
        raise Http404("Not found.")  # a scraper without the token learns nothing, not even that it exists
    return HttpResponse(generate_latest(_Scrape(_registry(), *_scrape_collectors)), content_type=CONTENT_TYPE_LATEST)


def start_worker_metrics_server(**kwargs: object) -> None:
    """Connected to Celery's worker_ready: serve the worker's metrics on WORKER_METRICS_PORT.

    The worker's pool processes do the counting, so this needs PROMETHEUS_MULTIPROC_DIR too.
    """
    port = settings.WORKER_METRICS_PORT
    if not port:
        return
    from prometheus_client import start_http_server

    start_http_server(port, registry=_registry())
    logger.info("worker metrics served", extra={"port": port})
