"""manage.py purge_logs --older-than DAYS: delete old finished logs in batches (retention), the in-app
messages read or archived more than INBOX_RETENTION_DAYS ago, and what other apps' purges (kit.retention)
find past its keeping."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from inbox_app.services import feed_purge
from kit.retention import retention_purges
from logs_app.pipeline.request import idempotency_keys_purge
from logs_app.privacy import logs_purge


class Command(BaseCommand):
    help = ("Delete notification logs created more than DAYS days ago that reached a final status (pending ones "
            "are kept), single sends' idempotency keys past their window, in-app messages read or archived and older "
            "than INBOX_RETENTION_DAYS (unread ones are kept), and old outbound webhook events and attempts "
            "(WEBHOOK_RETENTION_DAYS). Runs in small batches, so the service can keep working meanwhile. With "
            "--keep-logs (PostgreSQL, where log_partitions retires the logs) all but the logs.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=int, required=True, metavar="DAYS", dest="older_than")
        parser.add_argument("--batch-size", type=int, default=1000, help="Logs deleted per transaction.")
        parser.add_argument("--pause", type=float, default=0.0, metavar="SECONDS",
                            help="Wait between batches, to spare a busy database.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")
        parser.add_argument("--keep-logs", action="store_true", dest="keep_logs",
                            help="Leave the logs to log_partitions (PostgreSQL); purge only the rest.")

    def handle(self, *args, **options) -> None:
        verb = "Would delete" if options["dry_run"] else "Deleted"
        if not options["keep_logs"]:
            self._logs(options, verb)
        if not options["dry_run"]:  # keys past their window answer nothing: there is nothing to count
            keys = idempotency_keys_purge(now=timezone.now(), batch=options["batch_size"])
            self.stdout.write(f"Deleted {keys} idempotency key{'s' if keys != 1 else ''} past their window.")
        messages = feed_purge(batch=options["batch_size"], dry_run=options["dry_run"])
        self.stdout.write(f"{verb} {messages} read or archived in-app message{'s' if messages != 1 else ''}.")
        for purge in retention_purges():
            self.stdout.write(purge(batch=options["batch_size"], dry_run=options["dry_run"]))

    def _logs(self, options, verb: str) -> None:
        try:
            result = logs_purge(older_than_days=options["older_than"], batch_size=options["batch_size"],
                                pause_seconds=options["pause"], dry_run=options["dry_run"])
        except ValidationError as err:
            raise CommandError("; ".join(err.messages)) from None
        detail = ", ".join(f"{status} {count}" for status, count in sorted(result.by_status.items()))
        self.stdout.write(f"{verb} {result.total} log{'s' if result.total != 1 else ''} created before "
                          f"{result.cutoff:%Y-%m-%d %H:%M} UTC{f' ({detail})' if detail else ''}.")
