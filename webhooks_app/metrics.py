"""Prometheus metrics of webhook delivery, per endpoint (by id): attempts, failures, latency, disablings."""

from prometheus_client import Counter, Histogram

# A receiver should answer within the timeout (5 s by default); the buckets reach past it.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

ATTEMPTS = Counter("webhook_attempts_total", "Webhook delivery attempts, by endpoint.", ["endpoint"])
FAILURES = Counter("webhook_failures_total", "Webhook delivery attempts that failed (no 2xx answer), by endpoint.",
                   ["endpoint"])
LATENCY = Histogram("webhook_attempt_duration_seconds", "Time from sending a webhook to its answer (or error).",
                    ["endpoint"], buckets=LATENCY_BUCKETS)
DISABLED = Counter("webhook_endpoints_disabled_total", "Endpoints disabled for failing too long, by endpoint.",
                   ["endpoint"])


def attempt_recorded(*, endpoint_id: int, succeeded: bool, seconds: float) -> None:
    label = str(endpoint_id)
    ATTEMPTS.labels(label).inc()
    LATENCY.labels(label).observe(max(0.0, seconds))
    if not succeeded:
        FAILURES.labels(label).inc()


def endpoint_disabled(*, endpoint_id: int) -> None:
    DISABLED.labels(str(endpoint_id)).inc()
