"""manage.py log_counts_check: compare the rollup of the delivery log with a real count; --repair rewrites it."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from logs_app.rollup import counts_compare, counts_rebuild, hour_of, log_span


def _moment(text: str) -> dt.datetime:
    """An ISO date or date and time (UTC unless it says otherwise)."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM).") from None
    return moment.replace(tzinfo=dt.timezone.utc) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = ("Compare the rollup the dashboard and /metrics read (logs per hour, channel, provider and status) with a "
            "real count of the logs over a window of hours, and print each difference; exits 1 if there is any. "
            "--repair rewrites the window from the logs, a day per transaction.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=int, default=48, help="The window: the last HOURS hours (default 48).")
        parser.add_argument("--since", type=_moment, help="The window's start instead (hours from its own on).")
        parser.add_argument("--until", type=_moment, help="The window's end (its hour excluded; default: now).")
        parser.add_argument("--all", action="store_true", help="Every hour that has logs.")
        parser.add_argument("--repair", action="store_true", help="Rewrite the rollup for the window from the logs.")

    def handle(self, *args, **options) -> None:
        start, end = self._window(options)
        if start is None:
            self.stdout.write("No logs: nothing to compare.")
            return
        window = f"{start:%Y-%m-%d %H:00} to {end:%Y-%m-%d %H:00} UTC"
        if options["repair"]:
            written = counts_rebuild(start, end)
            self.stdout.write(f"Rewrote the rollup from {window}: {written} row{'s' if written != 1 else ''}.")
            return
        differences = counts_compare(start, end)
        for difference in differences:
            self.stdout.write(str(difference))
        if differences:
            raise CommandError(f"{len(differences)} difference{'s' if len(differences) != 1 else ''} between the "
                               f"rollup and the logs from {window}; `manage.py log_counts_check --repair` with the "
                               f"same window rewrites it.")
        self.stdout.write(f"The rollup matches the logs from {window}.")

    def _window(self, options: dict) -> tuple[dt.datetime | None, dt.datetime]:
        """[start, end) on hour boundaries; end is past the current hour unless --until says otherwise."""
        end = hour_of(options["until"]) if options["until"] else hour_of(timezone.now()) + dt.timedelta(hours=1)
        if options["all"]:
            span = log_span()
            return (span[0], max(end, span[1] + dt.timedelta(hours=1))) if span else (None, end)
        if options["since"]:
            start = hour_of(options["since"])
        else:
            if options["hours"] < 1:
                raise CommandError("--hours must be at least 1.")
            start = hour_of(timezone.now()) - dt.timedelta(hours=options["hours"] - 1)
        if start >= end:
            raise CommandError("The window is empty: --since must come before --until.")
        return start, end
