import pytest
from django.core.exceptions import ValidationError

from kinds_app.models import Topic
from kinds_app.topics import topic_create, topic_members, topic_subscribe, topic_unsubscribe, topics_by_key

pytestmark = pytest.mark.django_db


def test_subscribing_creates_the_topic_and_keeps_each_user_once():
    topic, added = topic_subscribe(key="project-42-watchers", user_ids=[3, 1, 2, 1])
    assert (topic.key, topic.subscribers, added) == ("project-42-watchers", 3, 3)
    topic, added = topic_subscribe(key="project-42-watchers", user_ids=[2, 4])
    assert (topic.subscribers, added) == (4, 1)
    assert topic_unsubscribe(topic=Topic.objects.get(key="project-42-watchers"), user_ids=[1, 99]) == 1


def test_members_of_several_topics_come_once_in_order():
    topic_subscribe(key="a", user_ids=[5, 1, 3])
    topic_subscribe(key="b", user_ids=[3, 2])
    assert list(topic_members(topics=topics_by_key(["a", "b"]), chunk_size=2)) == [1, 2, 3, 5]


@pytest.mark.parametrize(("call", "field"), [
    (lambda: topic_subscribe(key="Bad Key", user_ids=[1]), "key"),
    (lambda: topic_subscribe(key="ok", user_ids=[0]), "user_ids"),
    (lambda: topic_subscribe(key="ok", user_ids=[]), "user_ids"),
    (lambda: topics_by_key(["nope"]), "topics"),
])
def test_bad_input_names_the_field(call, field):
    with pytest.raises(ValidationError) as caught:
        call()
    assert field in caught.value.message_dict


def test_a_taken_key_is_refused():
    topic_create(key="watchers")
    with pytest.raises(ValidationError) as caught:
        topic_create(key="watchers")
    assert list(caught.value.message_dict) == ["key"]
