"""A trigger to a large topic: every member gets one log per channel, and memory stays flat with size."""

import tracemalloc

import pytest

from kinds_app.models import Topic, TopicSubscription
from logs_app.models import NotificationLog
from logs_app.pipeline.trigger import notification_trigger
from preferences_app.models import UserPreference
from tests import factories

pytestmark = pytest.mark.django_db


def topic_of(key: str, first: int, count: int) -> None:
    topic = Topic.objects.create(key=key)
    UserPreference.objects.bulk_create(
        [UserPreference(user_id=user_id, email=f"user{user_id}@example.com", phone_number=f"+1415{user_id:07d}")
         for user_id in range(first, first + count)], batch_size=2000)
    TopicSubscription.objects.bulk_create(
        [TopicSubscription(topic=topic, user_id=user_id) for user_id in range(first, first + count)], batch_size=2000)


def peak_bytes(**arguments) -> tuple[int, object]:
    tracemalloc.start()
    try:
        result, _ = notification_trigger(**arguments)
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def test_a_10000_member_topic_gets_one_log_per_channel_with_flat_memory():
    factories.NotificationKindFactory(key="release_notes", channels=["email", "sms"])
    topic_of("small", 1, 2_000)
    topic_of("large", 100_001, 10_000)
    context = {"first_name": "you", "code": "1"}
    small_peak, small = peak_bytes(kind="release_notes", topics=["small"], context=context)
    large_peak, large = peak_bytes(kind="release_notes", topics=["large"], context=context)

    assert (large.trigger.recipients, large.trigger.accepted, large.outcomes) == (10_000, 20_000, None)
    per_user = NotificationLog.objects.filter(trigger_id=large.trigger.id).values("user_id").distinct().count()
    assert per_user == 10_000
    assert small.trigger.accepted == 4_000
    # Five times the members, not five times the memory: recipients are streamed a chunk at a time.
    assert large_peak < 2 * small_peak, (small_peak, large_peak)
