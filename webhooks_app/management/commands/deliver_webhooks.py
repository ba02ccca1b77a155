"""manage.py deliver_webhooks: queue the webhook events whose retry is due or whose queue message was lost."""

from django.core.management.base import BaseCommand

from webhooks_app.dispatch import events_sweep_due


class Command(BaseCommand):
    help = ("Queue every webhook event that is due (retry backoff over, or lost by the queue). With no broker "
            "configured they are delivered right here.")

    def handle(self, *args, **options):
        count = events_sweep_due()
        self.stdout.write(f"Released {count} due webhook event{'s' if count != 1 else ''}.")
