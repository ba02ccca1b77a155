"""The partitions' periods and ranges (logs_app/partitions.py): the boundaries every partition of the log and of
its calls is made with, the same on any database; and the lines `log_partitions` reports retired partitions in."""

import datetime as dt

import pytest

from logs_app.management.commands.log_partitions import _retired_line
from logs_app.partitions import CALLS, LOG, Partition, _free_range, period_after, period_start
from logs_app.retirement import Retired

UTC = dt.timezone.utc


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("moment", "period", "start", "after"), [
    (at(2026, 12, 31, 23, 59), "month", at(2026, 12, 1), at(2027, 1, 1)),  # the year turns
    (at(2027, 2, 14, 8), "month", at(2027, 2, 1), at(2027, 3, 1)),
    (at(2028, 2, 29, 12), "month", at(2028, 2, 1), at(2028, 3, 1)),  # a leap day
    (at(2026, 12, 3, 21), "week", at(2026, 11, 30), at(2026, 12, 7)),  # ISO weeks start on Monday
    (at(2026, 11, 30), "week", at(2026, 11, 30), at(2026, 12, 7)),  # a Monday's midnight starts its own week
    (at(2026, 12, 31, 12), "week", at(2026, 12, 28), at(2027, 1, 4)),  # a week across the year
])
def test_periods_start_at_utc_midnight_and_follow_each_other(moment, period, start, after):
    assert period_start(moment, period) == start
    assert period_after(start, period) == after


def test_a_moment_in_another_zone_falls_in_the_utc_period():
    berlin = dt.timezone(dt.timedelta(hours=1))
    assert period_start(dt.datetime(2027, 1, 1, 0, 30, tzinfo=berlin), "month") == at(2026, 12, 1)


def test_a_range_is_cut_to_what_no_partition_holds():
    december, january = at(2026, 12, 1), at(2027, 1, 1)
    parts = [Partition("before", None, at(2026, 12, 10)), Partition("jan", january, at(2027, 2, 1)),
             Partition("held", None, None)]
    assert _free_range(december, january, parts) == (at(2026, 12, 10), january)  # the old table's tail
    assert _free_range(at(2026, 11, 1), december, parts) is None  # wholly in the partition from MINVALUE
    assert _free_range(december, at(2027, 3, 1), parts[1:]) == (december, january)  # up to the next one
    assert _free_range(at(2027, 2, 1), at(2027, 3, 1), parts) == (at(2027, 2, 1), at(2027, 3, 1))


def test_the_log_and_its_calls_are_partitioned_by_their_own_time_with_default_partitions_named_held():
    assert (LOG.name, LOG.key, LOG.held) == ("notification_logs", "created_at", "notification_logs_held")
    assert (CALLS.name, CALLS.key, CALLS.held) == (
        "notification_provider_calls", "started_at", "notification_provider_calls_held")
    assert CALLS.columns.split(", ")[:2] == ["id", "log_id"]


@pytest.mark.parametrize(("retired", "line"), [
    (Retired(LOG, "notification_logs_p20260801", rows=2_900_002, held=3, archived=False, locked_seconds=0.2184,
             dropped_seconds=0.46),
     "Dropped notification_logs_p20260801: 2900002 logs, 3 pending kept (the log was locked for 218 ms, then "
     "dropping the detached table took 460 ms)."),
    (Retired(CALLS, "notification_provider_calls_p20260801", rows=2_736_184, held=0, archived=False,
             locked_seconds=0.11, dropped_seconds=None),
     "Dropped notification_provider_calls_p20260801: about 2736184 provider calls, 0 of held logs kept (the calls "
     "were locked for 110 ms; the detached table's lock was busy past 5s: the next run drops it)."),
    (Retired(CALLS, "notification_provider_calls_p20260801", rows=5, held=1, archived=True, locked_seconds=0.004),
     "Detached (kept for archive) notification_provider_calls_p20260801: about 5 provider calls, 1 of held logs "
     "kept (the calls were locked for 4 ms)."),
])
def test_log_partitions_reports_each_retired_partition_in_a_line(retired, line):
    assert _retired_line(retired) == line
