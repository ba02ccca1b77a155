"""The service's URLs: the admin console; the APIs and health checks are added beside it."""

from django.contrib import admin
from django.urls import path

admin.site.site_header = "Notification service"
admin.site.site_title = "Notification service"
admin.site.index_title = "Templates, preferences and the delivery log"

urlpatterns = [
    path("admin/", admin.site.urls),
]
