"""manage.py erase_user_data USER_ID: erase a user's personal data (a GDPR erasure request)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from logs_app.privacy import user_data_erase


class Command(BaseCommand):
    help = ("Delete a user's preferences, contact points and push devices, cancel their pending notifications, and "
            "anonymise their notification logs (kept, without user id or content, for the counts).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_id", type=int)
        parser.add_argument("--no-input", "--noinput", action="store_false", dest="interactive",
                            help="Do not ask for confirmation.")

    def handle(self, *args, **options) -> None:
        user_id = options["user_id"]
        if options["interactive"]:
            answer = input(f"Erase all personal data of user {user_id}? This cannot be undone. Type 'yes': ")
            if answer.strip().lower() != "yes":
                raise CommandError("Nothing erased.")
        try:
            result = user_data_erase(user_id=user_id)
        except ValidationError as err:
            raise CommandError("; ".join(err.messages)) from None
        self.stdout.write(
            f"Erased user {result.user_id}: {result.preferences_deleted} preference record, {result.devices_deleted} "
            f"device(s) deleted; {result.logs_anonymised} log(s) anonymised, {result.logs_cancelled} pending "
            f"cancelled.")
