"""manage.py export_user_data USER_ID: everything stored about a user, as JSON (a GDPR access request)."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from logs_app.privacy import user_data_export


class Command(BaseCommand):
    help = "Print (or write to --output) a user's preferences, contact points, push devices and notifications as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_id", type=int)
        parser.add_argument("--output", "-o", metavar="FILE", help="Write the JSON here instead of standard output.")

    def handle(self, *args, **options) -> None:
        try:
            data = user_data_export(user_id=options["user_id"])
        except ValidationError as err:
            raise CommandError("; ".join(err.messages)) from None
        text = json.dumps(data, indent=2, ensure_ascii=False)
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as file:
                file.write(text + "\n")
            self.stderr.write(f"Wrote {len(data['notifications'])} notifications of user {data['user_id']} "
                              f"to {options['output']}.")
        else:
            self.stdout.write(text)
