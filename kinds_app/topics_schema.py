"""GraphQL types and resolvers for topics and their subscribers."""

import datetime as dt

import strawberry

from kit.graphql import PaginationInfo, PaginationInput, delete_found, page_of

from . import models, topics


@strawberry.type(description="A named list of users a trigger may name as recipients.")
class NotificationTopic:
    key: str
    name: str
    subscribers: int = strawberry.field(description="Users on the list.")
    created_at: dt.datetime


@strawberry.type(description="One page of topics.")
class NotificationTopicList:
    items: list[NotificationTopic]
    pagination: PaginationInfo


@strawberry.type(description="The answer to subscribeToTopic.")
class TopicSubscribeResult:
    topic: NotificationTopic
    added: int = strawberry.field(description="Users who were not on the list before.")


def _topic(topic: models.Topic) -> NotificationTopic:
    return NotificationTopic(key=topic.key, name=topic.name, subscribers=topic.subscribers,
                             created_at=topic.created_at)


def notification_topics(pagination: PaginationInput | None = None) -> NotificationTopicList:
    """Topics by key with their subscriber counts, one page at a time."""
    page = page_of(topics.topic_list(), pagination)
    return NotificationTopicList(items=[_topic(topic) for topic in page.items],
                                 pagination=PaginationInfo.from_page(page))


def subscribe_to_topic(topic: str, user_ids: list[int]) -> TopicSubscribeResult:
    """Put users on a topic's list (creating the topic on first use); users already on it stay."""
    found, added = topics.topic_subscribe(key=topic, user_ids=list(user_ids))
    return TopicSubscribeResult(topic=_topic(found), added=added)


def unsubscribe_from_topic(topic: str, user_ids: list[int]) -> int | None:
    """Take users off a topic's list; answers how many were on it. Null when there is no such topic."""
    try:
        found = topics.topic_get(key=topic)
    except models.Topic.DoesNotExist:
        return None
    return topics.topic_unsubscribe(topic=found, user_ids=list(user_ids))


def delete_notification_topic(key: str) -> bool:
    """Delete a topic and its list. False when there is none with this key."""
    return delete_found(lambda: topics.topic_get(key=key), lambda topic: topics.topic_delete(topic=topic),
                        missing=models.Topic.DoesNotExist)
