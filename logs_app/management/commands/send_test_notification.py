"""manage.py send_test_notification: send one notification end to end and say what happened."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from kit.commands import context_option, refused
from logs_app.models import NotificationStatus, Priority
from logs_app.pipeline.accept import notification_send
from logs_app.selectors import log_get
from templates_app.models import NotificationType
from templates_app.selectors import template_get_by_name
from templates_app.services import example_context


class Command(BaseCommand):
    help = ("Send a notification from a template to a user and print its final status. Without --context the "
            "template's example values are used.")

    def add_arguments(self, parser):
        parser.add_argument("--user-id", type=int, required=True)
        parser.add_argument("--template", required=True, help="The template's name.")
        parser.add_argument("--context", help='JSON object, e.g. \'{"first_name": "Ada"}\'.')
        parser.add_argument("--channel", choices=NotificationType.values, help="Default: the template's type.")
        parser.add_argument("--to", dest="recipient", help="Address, phone number or device token to use instead.")
        parser.add_argument("--urgent", action="store_true", help="Ignore the user's quiet hours.")

    def handle(self, *args, user_id, template, context, channel, recipient, urgent, **options):
        def example() -> dict:
            found = template_get_by_name(name=template)
            return example_context(found) if found else {}  # no such template: the send says so

        context = context_option(context, example=example)
        try:
            accepted = notification_send(user_id=user_id, template_name=template, context=context, channel=channel,
                                         recipient=recipient, client="manage.py",
                                         priority=Priority.URGENT if urgent else Priority.NORMAL)
        except ValidationError as err:
            raise refused(err) from None
        log = log_get(id=accepted.log.pk)
        self.stdout.write(f"Log #{log.pk}: {log.type} to user {log.user_id} ({log.recipient or 'active devices'}) "
                          f"with {log.template_name} v{log.template_version}")
        if log.provider:
            self.stdout.write(f"Provider: {log.provider} (message id {log.provider_message_id or '-'}), "
                              f"attempts: {log.attempts}")
        if log.scheduled_for and log.status == NotificationStatus.PENDING:
            why = accepted.deferred or "a retry's backoff"
            self.stdout.write(f"Deferred until {log.scheduled_for.isoformat()} ({why}); "
                              "`manage.py dispatch_due` releases it then.")
        if log.error_message:
            self.stdout.write(f"Reason: {log.error_message}")
        self.stdout.write(f"Status: {log.status}")
