"""manage.py create_api_key NAME [--scopes send,read,manage]: prints the new key once, on the last line."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from apikeys_app.models import Scope
from apikeys_app.services import api_key_create
from kit.commands import refused


class Command(BaseCommand):
    help = "Make an API key for a calling service. The key is printed once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who will use the key, e.g. 'billing-service'.")
        parser.add_argument("--scopes", default=",".join(Scope.values),
                            help=f"Comma-separated scopes from: {', '.join(Scope.values)} (default: all).")

    def handle(self, *args, name, scopes, **options):
        try:
            key, secret = api_key_create(name=name, scopes=[s.strip() for s in scopes.split(",") if s.strip()])
        except ValidationError as err:
            raise refused(err) from None
        self.stdout.write(f"Made API key {key.name!r} (prefix {key.prefix}, scopes {', '.join(key.scopes)}).")
        self.stdout.write("Send it as 'Authorization: Api-Key <key>'. It is not shown again.")
        self.stdout.write(secret)
