"""The service's URLs plus the bare baseline view the accept rate is compared with."""

from django.urls import path

from notifications_project.urls import handler404, handler500  # noqa: F401
from notifications_project.urls import urlpatterns as service_urlpatterns

from .views import baseline_send

urlpatterns = [path("bench/baseline/", baseline_send), *service_urlpatterns]
