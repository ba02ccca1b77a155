"""manage.py trigger: trigger a kind for users and print each one's outcome per channel."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from kinds_app.models import NotificationKind
from kinds_app.selectors import kind_get
from kinds_app.services import kind_example_context
from kit.commands import context_option, refused
from logs_app.models import NotificationLog, Priority
from logs_app.pipeline.trigger import notification_trigger


class Command(BaseCommand):
    help = ("Trigger a kind for one or more users and print, per user and channel, what happened. Without "
            "--context the example values of the kind's templates are used.")

    def add_arguments(self, parser):
        parser.add_argument("kind", help="The kind's key, such as order_shipped.")
        parser.add_argument("--user-id", dest="user_ids", type=int, action="append", default=[],
                            help="A recipient; repeat for more.")
        parser.add_argument("--topic", dest="topics", action="append", default=[],
                            help="A topic whose members are recipients; repeat for more.")
        parser.add_argument("--context", help='JSON object, e.g. \'{"first_name": "Ada"}\'.')
        parser.add_argument("--urgent", action="store_true", help="Ignore the users' quiet hours.")
        parser.add_argument("--cancellation-key", help="Names the trigger for cancellation.")

    def handle(self, *args, kind, user_ids, topics, context, urgent, cancellation_key, **options):
        def example() -> dict:
            try:
                return kind_example_context(kind_get(key=kind))
            except NotificationKind.DoesNotExist:
                return {}  # the trigger says there is no such kind

        context = context_option(context, example=example)
        try:
            result, _ = notification_trigger(kind=kind, user_ids=user_ids, topics=topics, context=context,
                                             client="manage.py", cancellation_key=cancellation_key,
                                             priority=Priority.URGENT if urgent else Priority.NORMAL)
        except ValidationError as err:
            raise refused(err) from None
        trigger = result.trigger
        self.stdout.write(f"Trigger {trigger.id}: {trigger.kind_key} for {trigger.recipients} user(s)")
        # Read again: with tasks in process, delivery has run by now.
        logs = NotificationLog.objects.filter(trigger_id=trigger.id).order_by("user_id", "type")
        for log in logs.only("id", "user_id", "type", "status", "error_message", "scheduled_for"):
            line = f"  user {log.user_id} {log.type}: {log.status} (log #{log.pk})"
            if log.error_message:
                line += f" - {log.error_message}"
            elif log.status == "pending" and log.scheduled_for:
                line += f" - deferred until {log.scheduled_for.isoformat()}"
            self.stdout.write(line)
        self.stdout.write(f"Accepted {trigger.accepted}, suppressed {trigger.suppressed}, failed {trigger.failed}")
