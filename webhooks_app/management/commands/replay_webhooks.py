"""manage.py replay_webhooks: deliver webhook events again, one by its id or an endpoint's since a time."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from webhooks_app.dispatch import events_replay
from webhooks_app.models import WebhookEndpoint, WebhookEvent


class Command(BaseCommand):
    help = ("Deliver webhook events again (same webhook-id, a fresh run of retries): one event by its id or "
            "webhook-id (msg_...), or every event of an endpoint made since a time.")

    def add_arguments(self, parser):
        parser.add_argument("--event", help="An event's id, or its webhook-id (msg_...).")
        parser.add_argument("--endpoint", type=int, help="An endpoint's id: replay its events since --since.")
        parser.add_argument("--since", help="With --endpoint: an ISO 8601 time, e.g. 2026-12-01T09:00:00Z.")

    def handle(self, *args, event=None, endpoint=None, since=None, **options):
        if bool(event) == bool(endpoint):
            raise CommandError("Give either --event, or --endpoint with --since.")
        if event:
            events = WebhookEvent.objects.filter(webhook_id=event) if event.startswith("msg_") else (
                WebhookEvent.objects.filter(pk=int(event)) if event.isdigit() else None)
            if events is None or not events.exists():
                raise CommandError(f"No webhook event {event!r}.")
            endpoint_row = events.get().endpoint
        else:
            moment = parse_datetime(since or "")
            if moment is None or moment.tzinfo is None:
                raise CommandError("--since must be an ISO 8601 time with its offset, e.g. 2026-12-01T09:00:00Z.")
            endpoint_row = WebhookEndpoint.objects.filter(pk=endpoint).first()
            if endpoint_row is None:
                raise CommandError(f"No webhook endpoint {endpoint}.")
            events = WebhookEvent.objects.filter(endpoint=endpoint_row, created_at__gte=moment)
        count = events_replay(event_ids=list(events.order_by("id").values_list("id", flat=True)))
        self.stdout.write(f"Replaying {count} webhook event{'s' if count != 1 else ''} to {endpoint_row.url}.")
        if not endpoint_row.enabled:
            self.stdout.write(f"The endpoint is disabled ({endpoint_row.disabled_reason or 'by its owner'}); "
                              "they wait until it is enabled.")
