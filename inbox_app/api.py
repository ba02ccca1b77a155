"""The feed API: what an end user's browser or app calls with a feed token (list, counts, marks), and the
server API's door that mints those tokens."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apikeys_app.models import Scope
from kit.bodies import BIGINT_MAX, BigIdField, StrictInputSerializer
from kit.errors import INVALID_INPUT, ErrorSerializer
from kit.views import ApiView
from preferences_app.services import validate_user_id

from . import selectors, services
from .authentication import FeedUserAuthentication, IsFeedUser
from .events import MARKS
from .services import MARK_MAX_IDS, FeedCounts
from .tokens import feed_token_mint


NOT_YOURS = {404: OpenApiResponse(ErrorSerializer, description="No message with this id in the token's feed.")}
UNAUTHENTICATED = {401: OpenApiResponse(ErrorSerializer, description="Missing, malformed, forged or expired feed "
                                                                      "token, or a user hash that does not match.")}


class FeedApiView(ApiView):
    """Base of the feed's endpoints: a feed token instead of an API key, and the token's user only."""

    authentication_classes = [FeedUserAuthentication]
    permission_classes = [IsFeedUser]

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> None:
        if not request.successful_authenticator:
            raise exceptions.NotAuthenticated(IsFeedUser.message)
        super().permission_denied(request, message, code)


class FeedMessageOutputSerializer(serializers.Serializer):
    id = BigIdField()
    title = serializers.CharField()
    body = serializers.CharField(help_text="The text as written (Markdown).")
    body_html = serializers.CharField(help_text="The body as sanitised HTML, safe to insert in a page.")
    action_url = serializers.CharField(help_text="Where the message leads; empty when nowhere.")
    data = serializers.DictField(help_text="The payload the message was sent with.")
    kind = serializers.CharField(help_text="The kind's key; empty for a single send.")
    category = serializers.CharField(help_text="The kind's category key; empty for a single send.")
    created_at = serializers.DateTimeField()
    seen_at = serializers.DateTimeField(allow_null=True)
    read_at = serializers.DateTimeField(allow_null=True)
    archived_at = serializers.DateTimeField(allow_null=True)


class CountsOutputSerializer(serializers.Serializer):
    unread_count = serializers.IntegerField(help_text="Messages neither read nor archived.")
    unseen_count = serializers.IntegerField(help_text="Messages neither seen (nor read) nor archived.")


def _counts(counts: FeedCounts) -> dict[str, int]:
    return {"unread_count": counts.unread, "unseen_count": counts.unseen}


class FeedPageOutputSerializer(CountsOutputSerializer):
    items = FeedMessageOutputSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for the next page; null at the end.")


class FeedQuerySerializer(StrictInputSerializer):
    status = serializers.ChoiceField(choices=list(selectors.STATUS_FILTERS), required=False, default="inbox",
                                     help_text="inbox (not archived, the default), unread, read, unseen, archived, all.")
    category = serializers.CharField(required=False, max_length=50, help_text="Only this category's messages.")
    cursor = serializers.RegexField(r"^[1-9][0-9]{0,18}$", required=False, help_text="The next_cursor of a page.",
                                    error_messages={"invalid": "Not a cursor this feed gave out."})
    size = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)

    def validate_cursor(self, value: str) -> int:
        if int(value) > BIGINT_MAX:
            raise serializers.ValidationError("Not a cursor this feed gave out.")
        return int(value)


class FeedListApi(FeedApiView):
    """The token's feed, newest first, a page at a time."""

    @extend_schema(operation_id="feed_list", parameters=[FeedQuerySerializer],
                   responses={200: FeedPageOutputSerializer, **INVALID_INPUT, **UNAUTHENTICATED})
    def get(self, request: Request) -> Response:
        query = self.query(FeedQuerySerializer, request)
        user_id = request.user.user_id
        items, next_id = selectors.feed_list(user_id=user_id, status=query["status"], category=query.get("category"),
                                             before=query.get("cursor"), size=query["size"])
        return Response({"items": FeedMessageOutputSerializer(items, many=True).data,
                         "next_cursor": str(next_id) if next_id else None,
                         **_counts(services.feed_counts_get(user_id=user_id))})


class FeedCountsApi(FeedApiView):
    """The token's unread and unseen counts (what a badge polls when it has no live stream)."""

    @extend_schema(operation_id="feed_counts", responses={200: CountsOutputSerializer, **UNAUTHENTICATED})
    def get(self, request: Request) -> Response:
        return Response(_counts(services.feed_counts_get(user_id=request.user.user_id)))


class FeedMessageOutputWithCountsSerializer(CountsOutputSerializer):
    item = FeedMessageOutputSerializer()
    changed = serializers.BooleanField(help_text="Whether the mark changed the message (false: it was so already).")


class MarkOneInputSerializer(StrictInputSerializer):
    action = serializers.ChoiceField(choices=list(MARKS))


class FeedMessageApi(FeedApiView):
    """One message of the token's feed: read it, or mark it."""

    @extend_schema(operation_id="feed_message_retrieve",
                   responses={200: FeedMessageOutputSerializer, **NOT_YOURS, **UNAUTHENTICATED})
    def get(self, request: Request, message_id: int) -> Response:
        message = selectors.feed_message_get(user_id=request.user.user_id, message_id=message_id)
        return Response(FeedMessageOutputSerializer(message).data)


class FeedMessageMarkApi(FeedApiView):
    """Mark one message of the token's feed seen, read, unread, archived or unarchived."""

    @extend_schema(operation_id="feed_message_mark", request=MarkOneInputSerializer,
                   responses={200: FeedMessageOutputWithCountsSerializer, **INVALID_INPUT, **NOT_YOURS,
                              **UNAUTHENTICATED})
    def post(self, request: Request, message_id: int) -> Response:
        user_id = request.user.user_id
        selectors.feed_message_get(user_id=user_id, message_id=message_id)  # 404 for another user's
        action = self.body(MarkOneInputSerializer, request)["action"]
        changed, counts = services.feed_mark(user_id=user_id, action=action, ids=[message_id])
        message = selectors.feed_message_get(user_id=user_id, message_id=message_id)
        return Response({"item": FeedMessageOutputSerializer(message).data, "changed": bool(changed),
                         **_counts(counts)})


class MarkManyInputSerializer(StrictInputSerializer):
    action = serializers.ChoiceField(choices=list(MARKS))
    ids = serializers.ListField(child=BigIdField(),
                                min_length=1, max_length=MARK_MAX_IDS,
                                help_text="Message ids of the token's feed; others' are ignored.")


class MarkManyOutputSerializer(CountsOutputSerializer):
    changed_ids = serializers.ListField(child=BigIdField(),
                                        help_text="The messages the mark changed (not those already so).")


class FeedMarkManyApi(FeedApiView):
    """Mark several messages of the token's feed at once."""

    @extend_schema(operation_id="feed_mark_many", request=MarkManyInputSerializer,
                   responses={200: MarkManyOutputSerializer, **INVALID_INPUT, **UNAUTHENTICATED})
    def post(self, request: Request) -> Response:
        body = self.body(MarkManyInputSerializer, request)
        changed, counts = services.feed_mark(user_id=request.user.user_id, action=body["action"], ids=body["ids"])
        return Response({"changed_ids": changed, **_counts(counts)})


class MarkAllInputSerializer(StrictInputSerializer):
    action = serializers.ChoiceField(choices=list(MARKS))
    category = serializers.CharField(required=False, max_length=50, help_text="Only this category's messages.")


class MarkAllOutputSerializer(CountsOutputSerializer):
    changed = serializers.IntegerField(help_text="How many messages the mark changed.")


class FeedMarkAllApi(FeedApiView):
    """Mark every message of the token's feed (or of one category)."""

    @extend_schema(operation_id="feed_mark_all", request=MarkAllInputSerializer,
                   responses={200: MarkAllOutputSerializer, **INVALID_INPUT, **UNAUTHENTICATED})
    def post(self, request: Request) -> Response:
        body = self.body(MarkAllInputSerializer, request)
        changed, counts = services.feed_mark(user_id=request.user.user_id, action=body["action"],
                                             category=body.get("category"))
        return Response({"changed": len(changed), **_counts(counts)})


class FeedTokenOutputSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    token = serializers.CharField(help_text="Give it to the user's browser: `Authorization: Bearer <token>`.")
    expires_at = serializers.DateTimeField()


class FeedTokenApi(ApiView):
    """Mint a short-lived token that reads and marks one user's feed (server side, with an API key)."""

    write_scope = Scope.SEND

    @extend_schema(operation_id="users_feed_token", request=None,
                   responses={201: FeedTokenOutputSerializer, **INVALID_INPUT},
                   description="The token lasts INBOX_FEED_TOKEN_TTL_SECONDS and reads only this user's feed. "
                               "Needs the `send` scope.")
    def post(self, request: Request, user_id: int) -> Response:
        user_id = validate_user_id(user_id)
        token, expires_at = feed_token_mint(user_id=user_id)
        data: dict[str, Any] = {"user_id": user_id, "token": token, "expires_at": expires_at}
        return Response(FeedTokenOutputSerializer(data).data, status=status.HTTP_201_CREATED)
