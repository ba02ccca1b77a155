"""REST endpoints for topics and their subscribers: validate input, call the topic services, shape output."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from kit.bodies import StrictInputSerializer
from kit.errors import INVALID_INPUT, ErrorSerializer
from kit.pagination import PageQuerySerializer, page_response, paginate, paginated
from kit.views import ApiView

from . import topics
from .api import key_field

TOPIC_NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No topic with this key.")}
USER_ID = serializers.IntegerField(min_value=1, max_value=topics.USER_ID_MAX)


class TopicOutputSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    subscribers = serializers.IntegerField(help_text="Users on the topic's list.")
    created_at = serializers.DateTimeField()


class TopicInputSerializer(StrictInputSerializer):
    key = key_field(200)
    name = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")


class TopicListQuerySerializer(PageQuerySerializer):
    search = serializers.CharField(required=False, max_length=100, help_text="Part of the key, any case.")


class SubscribersInputSerializer(StrictInputSerializer):
    """Users to put on the topic's list (created on first use) or to take off it."""

    user_ids = serializers.ListField(child=USER_ID, allow_empty=False)


class SubscribeOutputSerializer(serializers.Serializer):
    topic = TopicOutputSerializer()
    added = serializers.IntegerField(help_text="Users who were not on the list before.")


class UnsubscribeOutputSerializer(serializers.Serializer):
    removed = serializers.IntegerField(help_text="Users who were on the list.")


class SubscriberOutputSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    created_at = serializers.DateTimeField(help_text="When the user was put on the list.")


class TopicListCreateApi(ApiView):
    """Topics: list and create."""

    @extend_schema(operation_id="topics_list", parameters=[TopicListQuerySerializer],
                   responses={200: paginated(TopicOutputSerializer), **INVALID_INPUT})
    def get(self, request: Request) -> Response:
        query = self.query(TopicListQuerySerializer, request)
        found = topics.topic_list(search=query.get("search"))
        return page_response(paginate(found, page=query["page"], size=query["size"]), TopicOutputSerializer)

    @extend_schema(operation_id="topics_create", request=TopicInputSerializer,
                   responses={201: TopicOutputSerializer, **INVALID_INPUT})
    def post(self, request: Request) -> Response:
        topic = topics.topic_create(**self.body(TopicInputSerializer, request))
        return Response(TopicOutputSerializer(topic).data, status=status.HTTP_201_CREATED)


class TopicDetailApi(ApiView):
    """One topic: read, delete."""

    @extend_schema(operation_id="topics_retrieve", responses={200: TopicOutputSerializer, **TOPIC_NOT_FOUND})
    def get(self, request: Request, topic_key: str) -> Response:
        return Response(TopicOutputSerializer(topics.topic_get(key=topic_key)).data)

    @extend_schema(operation_id="topics_destroy", responses={204: None, **TOPIC_NOT_FOUND})
    def delete(self, request: Request, topic_key: str) -> Response:
        topics.topic_delete(topic=topics.topic_get(key=topic_key))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TopicSubscribersApi(ApiView):
    """A topic's subscribers: list, add (creating the topic), remove."""

    @extend_schema(operation_id="topics_subscribers_list", parameters=[PageQuerySerializer],
                   responses={200: paginated(SubscriberOutputSerializer), **INVALID_INPUT, **TOPIC_NOT_FOUND})
    def get(self, request: Request, topic_key: str) -> Response:
        query = self.query(PageQuerySerializer, request)
        subscriptions = topics.topic_subscriber_ids(topic=topics.topic_get(key=topic_key))
        return page_response(paginate(subscriptions, page=query["page"], size=query["size"]),
                             SubscriberOutputSerializer)

    @extend_schema(operation_id="topics_subscribe", request=SubscribersInputSerializer,
                   responses={200: SubscribeOutputSerializer, **INVALID_INPUT},
                   description="Put users on the list; users already on it stay. A new key creates the topic.")
    def post(self, request: Request, topic_key: str) -> Response:
        topic, added = topics.topic_subscribe(key=topic_key, **self.body(SubscribersInputSerializer, request))
        return Response(SubscribeOutputSerializer({"topic": topic, "added": added}).data)


class TopicUnsubscribeApi(ApiView):
    """Take users off a topic's list."""

    @extend_schema(operation_id="topics_unsubscribe", request=SubscribersInputSerializer,
                   responses={200: UnsubscribeOutputSerializer, **INVALID_INPUT, **TOPIC_NOT_FOUND})
    def post(self, request: Request, topic_key: str) -> Response:
        removed = topics.topic_unsubscribe(topic=topics.topic_get(key=topic_key),
                                           **self.body(SubscribersInputSerializer, request))
        return Response(UnsubscribeOutputSerializer({"removed": removed}).data)
