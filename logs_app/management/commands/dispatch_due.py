"""manage.py dispatch_due: release scheduled, deferred and retrying notifications whose time has come."""

from django.core.management.base import BaseCommand

from logs_app.pipeline.sweep import logs_sweep_due


class Command(BaseCommand):
    help = ("Queue every pending notification that is due (send_at or quiet hours passed, retry backoff over, "
            "or lost by the queue). With no broker configured they are delivered right here.")

    def handle(self, *args, **options):
        count = logs_sweep_due()
        self.stdout.write(f"Released {count} due notification{'s' if count != 1 else ''}.")
