"""The service's URLs: the admin console, the health probes, and (beside them) the APIs."""

from django.contrib import admin
from django.urls import path

from . import health

admin.site.site_header = "Notification service"
admin.site.site_title = "Notification service"
admin.site.index_title = "Templates, preferences and the delivery log"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/startup", health.startup, name="health-startup"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
]
