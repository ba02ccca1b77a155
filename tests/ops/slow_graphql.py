"""A GraphQL schema of deliberately slow fields, served beside the real URLs at /graphql-slow/ with the real
schema's extensions, to show that an operation is stopped at GRAPHQL_TIMEOUT_MS."""

import time

import strawberry
from django.db import connection
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from notifications_project.schema import NotificationGraphQLView, NotificationSchema, schema
from notifications_project.urls import urlpatterns as real_urlpatterns

FIELD_SECONDS = 0.05

resolved: list[int] = []  # which items' slow field ran, in order


@strawberry.type
class Item:
    number: int

    @strawberry.field
    def slow(self) -> int:
        time.sleep(FIELD_SECONDS)
        resolved.append(self.number)
        return self.number


@strawberry.type
class SlowQuery:
    @strawberry.field
    def items(self, count: int) -> list[Item]:
        return [Item(number=number) for number in range(count)]

    @strawberry.field
    def database_sleep(self, seconds: float) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(%s)", [seconds])
        return 1


slow_schema = NotificationSchema(query=SlowQuery, extensions=schema.extensions)

urlpatterns = [
    path("graphql-slow/", csrf_exempt(NotificationGraphQLView.as_view(schema=slow_schema))),
    *real_urlpatterns,
]
