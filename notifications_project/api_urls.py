"""The REST API's URLs: v1 endpoints, the OpenAPI schema and its Swagger UI."""

from django.urls import include, path, register_converter
from django.urls.converters import IntConverter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from consent_app.api import SuppressionDetailApi, SuppressionListApi
from inbox_app.api import (
    FeedCountsApi,
    FeedListApi,
    FeedMarkAllApi,
    FeedMarkManyApi,
    FeedMessageApi,
    FeedMessageMarkApi,
    FeedTokenApi,
)
from inbox_app.stream import feed_stream
from kinds_app.api import CategoryDetailApi, CategoryListCreateApi, KindDetailApi, KindListCreateApi
from kinds_app.topics_api import TopicDetailApi, TopicListCreateApi, TopicSubscribersApi, TopicUnsubscribeApi
from logs_app.api import (
    NotificationBulkApi,
    NotificationDetailApi,
    NotificationListCreateApi,
    UserEraseApi,
    UserExportApi,
)
from logs_app.trigger_api import TriggerCancelApi, TriggerCreateApi
from preferences_app.api import DeviceDetailApi, DeviceListCreateApi, NotificationSettingsApi, PreferenceDetailApi
from templates_app.api import TemplateDetailApi, TemplateListCreateApi, TemplateVersionListApi
from webhooks_app.api import WebhookEndpointDetailApi, WebhookEndpointListCreateApi, WebhookEndpointSecretApi

# Digits, as `int`; named apart so that the schema states each one's bounds (PATH_CONVERTER_OVERRIDES).
register_converter(IntConverter, "user_id")
register_converter(IntConverter, "id")

v1 = [
    # Sends first: Django tries the patterns in order, and a send is the most frequent call.
    path("notifications/", NotificationListCreateApi.as_view(), name="notifications"),
    path("notifications/bulk/", NotificationBulkApi.as_view(), name="notifications-bulk"),
    path("notifications/<id:log_id>/", NotificationDetailApi.as_view(), name="notification"),
    path("templates/", TemplateListCreateApi.as_view(), name="templates"),
    path("templates/<id:template_id>/", TemplateDetailApi.as_view(), name="template"),
    path("templates/<id:template_id>/versions/", TemplateVersionListApi.as_view(), name="template-versions"),
    path("categories/", CategoryListCreateApi.as_view(), name="categories"),
    path("categories/<id:category_id>/", CategoryDetailApi.as_view(), name="category"),
    path("kinds/", KindListCreateApi.as_view(), name="kinds"),
    path("kinds/<id:kind_id>/", KindDetailApi.as_view(), name="kind"),
    path("topics/", TopicListCreateApi.as_view(), name="topics"),
    path("topics/<str:topic_key>/", TopicDetailApi.as_view(), name="topic"),
    path("topics/<str:topic_key>/subscribers/", TopicSubscribersApi.as_view(), name="topic-subscribers"),
    path("topics/<str:topic_key>/unsubscribe/", TopicUnsubscribeApi.as_view(), name="topic-unsubscribe"),
    path("triggers/", TriggerCreateApi.as_view(), name="triggers"),
    path("triggers/<str:cancellation_key>/", TriggerCancelApi.as_view(), name="trigger-cancel"),
    path("preferences/<user_id:user_id>/", PreferenceDetailApi.as_view(), name="preference"),
    path("preferences/<user_id:user_id>/settings/", NotificationSettingsApi.as_view(), name="notification-settings"),
    path("preferences/<user_id:user_id>/devices/", DeviceListCreateApi.as_view(), name="devices"),
    path("preferences/<user_id:user_id>/devices/<id:device_id>/", DeviceDetailApi.as_view(), name="device"),
    path("suppressions/", SuppressionListApi.as_view(), name="suppressions"),
    path("suppressions/<id:suppression_id>/", SuppressionDetailApi.as_view(), name="suppression"),
    path("users/<user_id:user_id>/export/", UserExportApi.as_view(), name="user-export"),
    path("users/<user_id:user_id>/erase/", UserEraseApi.as_view(), name="user-erase"),
    path("users/<user_id:user_id>/feed-token/", FeedTokenApi.as_view(), name="user-feed-token"),
    path("feed/", FeedListApi.as_view(), name="feed"),
    path("feed/counts/", FeedCountsApi.as_view(), name="feed-counts"),
    path("feed/stream/", feed_stream, name="feed-stream"),
    path("feed/mark/", FeedMarkManyApi.as_view(), name="feed-mark"),
    path("feed/mark-all/", FeedMarkAllApi.as_view(), name="feed-mark-all"),
    path("feed/<id:message_id>/", FeedMessageApi.as_view(), name="feed-message"),
    path("feed/<id:message_id>/mark/", FeedMessageMarkApi.as_view(), name="feed-message-mark"),
    path("webhooks/endpoints/", WebhookEndpointListCreateApi.as_view(), name="webhook-endpoints"),
    path("webhooks/endpoints/<id:endpoint_id>/", WebhookEndpointDetailApi.as_view(), name="webhook-endpoint"),
    path("webhooks/endpoints/<id:endpoint_id>/rotate-secret/", WebhookEndpointSecretApi.as_view(),
         name="webhook-endpoint-secret"),
]

urlpatterns = [
    path("v1/", include((v1, "v1"))),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
