"""One route, one view: parse the send's JSON, insert one log row, answer 202 with its id and status."""

import json

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

TABLE = "bench_floor_logs"  # created by the benchmark: LIKE notification_logs INCLUDING ALL

INSERT = f"""
INSERT INTO {TABLE} (user_id, template_name, type, status, priority, recipient, subject, body, html_body,
                     provider, provider_message_id, attempts, client, notification_metadata, created_at, updated_at)
VALUES (%s, %s, 'sms', 'pending', 'normal', '', '', %s, '', '', '', 0, '', %s, now(), now())
RETURNING id, status
"""


def send(request: HttpRequest) -> HttpResponse:
    data = json.loads(request.body)
    context = json.dumps(data.get("context") or {})
    with connection.cursor() as cursor:
        cursor.execute(INSERT, [data["user_id"], data["template_name"], context, context])
        log_id, status = cursor.fetchone()
    return JsonResponse({"id": log_id, "status": status}, status=202)


urlpatterns = [path("floor/send/", send)]
