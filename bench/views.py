"""The accept-rate baseline: what Django costs at the least for "parse a send request, insert one row"."""

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from logs_app.models import NotificationLog


@csrf_exempt
def baseline_send(request: HttpRequest) -> HttpResponse:
    """Parse the same JSON body the real endpoint gets and insert one log row: no auth, no template, no queue."""
    data = json.loads(request.body)
    log = NotificationLog.objects.create(user_id=data["user_id"], template_name=data["template_name"], type="sms",
                                         body=json.dumps(data.get("context") or {}))
    return JsonResponse({"id": log.pk, "status": log.status}, status=202)
