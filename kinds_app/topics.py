"""Topics: named lists of users a trigger may name as recipients. Create, subscribe, unsubscribe, read members."""

from collections.abc import Iterable, Iterator

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet

from .models import Topic, TopicSubscription

USER_ID_MAX = 2**31 - 1
SUBSCRIBE_CHUNK = 2000


def _user_ids(user_ids: object) -> list[int]:
    """The ids, if they are a non-empty list of user ids within the bulk limit. Raises ValidationError."""
    if not isinstance(user_ids, list) or not user_ids:
        raise ValidationError({"user_ids": "Must be a non-empty list of user ids."})
    if len(user_ids) > settings.NOTIFICATION_BULK_MAX_USERS:
        raise ValidationError({"user_ids": f"At most {settings.NOTIFICATION_BULK_MAX_USERS} users per call."})
    bad = [u for u in user_ids if isinstance(u, bool) or not isinstance(u, int) or not 1 <= u <= USER_ID_MAX]
    if bad:
        raise ValidationError({"user_ids": f"Not valid user ids: {', '.join(map(str, bad[:5]))}."})
    return user_ids


def topic_list(*, search: str | None = None) -> QuerySet[Topic]:
    """Topics by key with their subscriber counts (`subscribers`), optionally whose key contains `search`."""
    queryset = Topic.objects.order_by("key").annotate(subscribers=Count("subscriptions"))
    return queryset.filter(key__icontains=search) if search else queryset


def topic_get(*, key: str) -> Topic:
    """One topic with its subscriber count. Raises Topic.DoesNotExist."""
    return topic_list().get(key=key)


def topic_create(*, key: str, name: str = "") -> Topic:
    """Create a topic. Raises ValidationError naming the field (a taken or malformed key)."""
    topic = Topic(key=key, name=name)
    topic.full_clean()
    topic.save()
    return topic_get(key=key)


def topic_delete(*, topic: Topic) -> None:
    """Delete a topic and its subscriptions; triggers already made keep their logs."""
    topic.delete()


@transaction.atomic
def topic_subscribe(*, key: str, user_ids: list[int]) -> tuple[Topic, int]:
    """Put the users on the topic's list, creating the topic if there is none; users already on it stay.
    Returns (topic, how many were added). Raises ValidationError naming key or user_ids."""
    user_ids = _user_ids(user_ids)
    topic = Topic.objects.filter(key=key).first() or topic_create(key=key)
    before = topic.subscriptions.count()
    for start in range(0, len(user_ids), SUBSCRIBE_CHUNK):
        TopicSubscription.objects.bulk_create(
            [TopicSubscription(topic=topic, user_id=user_id) for user_id in user_ids[start:start + SUBSCRIBE_CHUNK]],
            ignore_conflicts=True)
    return topic_get(key=key), topic.subscriptions.count() - before


def topic_unsubscribe(*, topic: Topic, user_ids: list[int]) -> int:
    """Take the users off the topic's list; returns how many were on it. Raises ValidationError."""
    deleted, _ = topic.subscriptions.filter(user_id__in=_user_ids(user_ids)).delete()
    return deleted


def topic_subscriber_ids(*, topic: Topic) -> QuerySet[TopicSubscription]:
    """The topic's subscriptions in user order (the REST API pages them)."""
    return topic.subscriptions.order_by("user_id")


def topics_by_key(keys: Iterable[object]) -> list[Topic]:
    """The topics named, in the order given. Raises ValidationError naming `topics` for a bad or unknown key."""
    keys = list(keys)
    if not all(isinstance(key, str) for key in keys):
        raise ValidationError({"topics": "Must be a list of topic keys."})
    found = {topic.key: topic for topic in Topic.objects.filter(key__in=keys)}
    missing = [key for key in keys if key not in found]
    if missing:
        raise ValidationError({"topics": f"No topic with the key {missing[0]!r}."})
    return [found[key] for key in dict.fromkeys(keys)]


def topic_members(*, topics: list[Topic], chunk_size: int = SUBSCRIBE_CHUNK) -> Iterator[int]:
    """Every user on any of the topics, each once, in ascending order, read a chunk at a time."""
    rows = (TopicSubscription.objects.filter(topic__in=topics).order_by("user_id").values_list("user_id", flat=True)
            .distinct().iterator(chunk_size=chunk_size))
    yield from rows
