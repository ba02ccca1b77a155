"""manage.py export_user_data USER_ID: everything stored about a user, as JSON (a GDPR access request)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from logs_app.privacy import user_data_export


class Command(BaseCommand):
    # The checks (providers, webhooks, the URL conf) guard the service, not a read of one user's data, and they
    # load the URL conf with the admin and every door: 25 MiB of the process's peak RSS (issue #15).
    requires_system_checks = ()
    help = ("Print (or write to --output) a user's preferences, contact points, push devices and notifications as "
            "one JSON document, written as it is read (memory stays flat however many logs the user has).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_id", type=int)
        parser.add_argument("--output", "-o", metavar="FILE", help="Write the JSON here instead of standard output.")

    def handle(self, *args, **options) -> None:
        try:
            pieces = user_data_export(user_id=options["user_id"])
        except ValidationError as err:
            raise CommandError("; ".join(err.messages)) from None
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as file:
                file.writelines(pieces)
                file.write("\n")
            self.stderr.write(f"Wrote the data of user {options['user_id']} to {options['output']}.")
        else:
            for piece in pieces:
                self.stdout.write(piece, ending="")
            self.stdout.write("")
