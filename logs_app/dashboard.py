"""The delivery dashboard in the admin: outcomes per channel and provider, hourly volume, recent failures."""

import datetime as dt
from dataclasses import dataclass, field

from django.contrib import admin
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from kit.replica import lagging_reads

from .models import NotificationLog, NotificationStatus
from .rollup import counts_since, counts_since_each, hour_of, window_start
from .selectors import Backlog, log_backlog

# The order (and colour, in the stylesheet) in which outcomes are drawn: good news first.
STATUSES = (
    NotificationStatus.DELIVERED, NotificationStatus.SENT, NotificationStatus.PENDING,
    NotificationStatus.SUPPRESSED, NotificationStatus.BOUNCED, NotificationStatus.FAILED,
)
PERIODS = (("Last 24 hours", dt.timedelta(hours=24)), ("Last 7 days", dt.timedelta(days=7)))
RECENT_FAILURES = 20
CHART_HEIGHT = 160
CHART_BAR_WIDTH = 24


@dataclass
class Segment:
    status: str
    count: int
    percent: float  # of the bar's own total


@dataclass
class Row:
    channel: str
    provider: str
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    width: float = 0.0  # this row's bar, as a percent of the busiest row's
    segments: list[Segment] = field(default_factory=list)

    @property
    def cells(self) -> list[tuple[str, int]]:
        return [(status, self.counts.get(status, 0)) for status in STATUSES]

    @property
    def success_rate(self) -> float | None:
        """Share of the finished deliveries a provider took (suppressed and pending ones aside)."""
        taken = self.counts.get("sent", 0) + self.counts.get("delivered", 0)
        attempted = taken + sum(self.counts.get(s, 0) for s in ("failed", "bounced"))
        return round(100 * taken / attempted, 1) if attempted else None


@dataclass
class Period:
    title: str
    rows: list[Row]
    totals: dict[str, int]
    total: int

    @property
    def cells(self) -> list[tuple[str, int]]:
        return [(status, self.totals.get(status, 0)) for status in STATUSES]


def _segments(counts: dict[str, int], total: int) -> list[Segment]:
    return [Segment(status, counts[status], 100 * counts[status] / total)
            for status in STATUSES if counts.get(status)]


def delivery_counts(*, starts: list[dt.datetime]) -> list[Period]:
    """Logs created in the hours from each of `starts` (the start of an hourly bucket) on, counted per channel,
    provider and status: a Period each, read from the rollup (logs_app/rollup.py) in one query, a few rows per
    hour whatever the traffic."""
    periods: list[dict[tuple[str, str], Row]] = [{} for _ in starts]
    for entry, counts in counts_since_each(starts, "channel", "provider", "status"):
        for rows, n in zip(periods, counts):
            if n:
                row = rows.setdefault((entry["channel"], entry["provider"]), Row(entry["channel"], entry["provider"]))
                row.counts[entry["status"]] = row.counts.get(entry["status"], 0) + n
                row.total += n
    return [_period(rows) for rows in periods]


def _period(rows: dict[tuple[str, str], Row]) -> Period:
    ordered = sorted(rows.values(), key=lambda row: (row.channel, -row.total, row.provider))
    busiest = max((row.total for row in ordered), default=0)
    totals = {status: sum(row.counts.get(status, 0) for row in ordered) for status in STATUSES}
    for row in ordered:
        row.width = 100 * row.total / busiest if busiest else 0
        row.segments = _segments(row.counts, row.total)
    return Period(title="", rows=ordered, totals=totals, total=sum(totals.values()))


@dataclass
class Column:
    label: str
    x: int
    total: int
    rects: list[dict]  # status, y, height, count


def hourly_volume(*, now: dt.datetime, hours: int = 24) -> tuple[list[Column], int]:
    """The last `hours` hours of logs by hour and status (from the rollup), laid out as SVG columns."""
    start = window_start(now, hours)
    per_hour: dict[dt.datetime, dict[str, int]] = {}
    for entry in counts_since(start, "hour", "status"):
        per_hour.setdefault(hour_of(entry["hour"]), {})[entry["status"]] = entry["n"]
    peak = max((sum(counts.values()) for counts in per_hour.values()), default=0)
    columns = []
    for index in range(hours):
        hour = start + dt.timedelta(hours=index)
        counts = per_hour.get(hour, {})
        y, rects = CHART_HEIGHT, []
        for status in STATUSES:
            if counts.get(status):
                height = max(1, round(CHART_HEIGHT * counts[status] / peak))
                y -= height
                rects.append({"status": status, "y": y, "height": height, "count": counts[status]})
        label = timezone.localtime(hour).strftime("%H:00")
        columns.append(Column(label=label, x=index * (CHART_BAR_WIDTH + 6), total=sum(counts.values()),
                              rects=rects))
    return columns, peak


def recent_failures(*, limit: int = RECENT_FAILURES) -> list[NotificationLog]:
    """The latest failed and bounced logs with their errors (newest first, by the created_at index)."""
    return list(NotificationLog.objects.filter(Q(status=NotificationStatus.FAILED) | Q(status=NotificationStatus.BOUNCED))
                .only("id", "user_id", "type", "provider", "status", "attempts", "error_message", "created_at",
                      "updated_at")
                .order_by("-created_at", "-id")[:limit])


@lagging_reads()  # counts a moment behind are fine here: from the replica when there is one (kit/replica.py)
def delivery_dashboard(request: HttpRequest) -> HttpResponse:
    """The admin page (staff only: wrapped in `admin.site.admin_view` where it is routed)."""
    now = timezone.now()
    periods = delivery_counts(starts=[window_start(now, length // dt.timedelta(hours=1)) for _, length in PERIODS])
    for period, (title, _) in zip(periods, PERIODS):
        period.title = title
    columns, peak = hourly_volume(now=now)
    backlog: Backlog = log_backlog(now=now)
    context = {
        **admin.site.each_context(request),
        "title": "Delivery dashboard",
        "periods": periods,
        "statuses": STATUSES,
        "columns": columns,
        "peak": peak,
        "chart_height": CHART_HEIGHT,
        "chart_width": len(columns) * (CHART_BAR_WIDTH + 6),
        "bar_width": CHART_BAR_WIDTH,
        "bar_center": CHART_BAR_WIDTH // 2,
        "backlog": backlog,
        "failures": recent_failures(),
        "generated_at": now,
    }
    return TemplateResponse(request, "logs_app/admin/delivery_dashboard.html", context)
