"""anymail's webhook URLs (ESP delivery receipts), each view wrapped by logs_app.webhooks.anymail_webhook_guarded.

A URL conf of its own, which notifications_project/urls.py includes lazily: anymail's views import boto3 and
botocore for Amazon SES (about 20 MiB a web worker would otherwise hold), so they load with the first request
under /webhooks/anymail/, not in every web worker at start.
"""

from anymail import urls as anymail_urls
from django.urls import URLPattern

from .webhooks import anymail_webhook_guarded

app_name = anymail_urls.app_name
urlpatterns = [URLPattern(pattern.pattern, anymail_webhook_guarded(pattern.callback), pattern.default_args, pattern.name)
               for pattern in anymail_urls.urlpatterns]
