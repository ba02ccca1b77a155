"""The delivery backlog as Prometheus gauges, read at scrape time (kit.metrics yields them)."""

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kit.replica import lagging_reads

from .selectors import log_backlog


class QueueLagCollector(Collector):
    """The backlog, read at scrape time from the rollup and the partial index of pending logs (log_backlog)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with lagging_reads():  # a scrape may be a moment behind: the replica, when there is one
            backlog = log_backlog()
        yield GaugeMetricFamily("notification_queue_due", "Pending notifications whose time has come.",
                                value=backlog.due)
        yield GaugeMetricFamily("notification_queue_lag_seconds",
                                "Age of the oldest pending notification that is due (0 when none).",
                                value=backlog.oldest_due_age_seconds)
