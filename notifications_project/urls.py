"""The service's URLs: the admin console, the health probes, and (beside them) the APIs."""

from django.contrib import admin
from django.urls import URLResolver, include, path
from django.urls.resolvers import RoutePattern

from consent_app.views import consent_link
from inbox_app.views import inbox_demo
from kit import metrics
from logs_app import dashboard, webhooks

from . import health
from .favicon import favicon
from .schema import graphql_view

admin.site.site_header = "Notification service"
admin.site.site_title = "Notification service"
admin.site.index_title = "Templates, preferences and the delivery log"
admin.site.index_template = "admin/notifications_index.html"  # the admin index, with a link to the dashboard
admin.site.site_url = None  # the service has no site of its own to view: no "View site" link
admin.site.enable_nav_sidebar = False  # the lists' columns get its width (the index lists the same links)

urlpatterns = [
    # First: Django tries the patterns in order, and API calls (sends above all) are most of the traffic.
    path("api/", include("notifications_project.api_urls")),
    path("admin/delivery/", admin.site.admin_view(dashboard.delivery_dashboard), name="delivery-dashboard"),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
    path("health/startup", health.startup, name="health-startup"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("webhooks/twilio/status", webhooks.twilio_status, name="webhook-twilio-status"),
    path("webhooks/twilio/inbound", webhooks.twilio_inbound, name="webhook-twilio-inbound"),  # STOP, START, HELP
    # Forged or replayed: 403. Named by its module, so it loads with the first request under its path (anymail's
    # views import boto3, about 20 MiB); include() would import it now. Reversing "anymail:..." loads it too.
    URLResolver(RoutePattern("webhooks/anymail/"), "logs_app.anymail_urls", app_name="anymail", namespace="anymail"),
    path("u/<str:token>", consent_link, name="consent-link"),  # one-click unsubscribe and the preference page
    path("graphql/", graphql_view, name="graphql"),
    path("inbox/demo/", inbox_demo, name="inbox-demo"),
]

# Under /api/ these answer in the API's JSON error shape; elsewhere they are Django's own pages.
handler404 = "kit.errors.not_found"
handler500 = "kit.errors.server_error"
