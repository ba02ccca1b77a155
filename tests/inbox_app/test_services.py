"""Marking messages and the counters that follow them (inbox_app/services.py)."""

import datetime as dt
import random
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from inbox_app.models import FeedCounter, FeedMessage
from inbox_app.services import FeedCounts, feed_counts_get, feed_mark, feed_message_create, feed_purge

pytestmark = pytest.mark.django_db


def messages(user_id: int, count: int, **fields) -> list[int]:
    return [feed_message_create(user_id=user_id, title=f"m{n}", body="b", **fields)[0].pk for n in range(count)]


def real_counts(user_id: int) -> FeedCounts:
    mine = FeedMessage.objects.filter(user_id=user_id, archived_at__isnull=True)
    return FeedCounts(unread=mine.filter(read_at__isnull=True).count(), unseen=mine.filter(seen_at__isnull=True).count())


def test_new_messages_are_unread_and_unseen():
    messages(1001, 3)
    assert feed_counts_get(user_id=1001) == FeedCounts(3, 3) == real_counts(1001)
    assert feed_counts_get(user_id=1002) == FeedCounts(0, 0)


def test_marking_read_twice_counts_once_and_sees_it_too():
    first, second = messages(1001, 2)
    assert feed_mark(user_id=1001, action="read", ids=[first]) == ([first], FeedCounts(1, 1))
    assert feed_mark(user_id=1001, action="read", ids=[first]) == ([], FeedCounts(1, 1))
    assert FeedMessage.objects.get(pk=first).seen_at is not None


def test_each_mark_moves_the_counts_as_the_messages_say():
    a, b, c = messages(1001, 3)
    assert feed_mark(user_id=1001, action="seen", ids=[a, b])[1] == FeedCounts(3, 1)
    assert feed_mark(user_id=1001, action="archived", ids=[c])[1] == FeedCounts(2, 0)  # unseen and unread: gone
    assert feed_mark(user_id=1001, action="read", ids=[a])[1] == FeedCounts(1, 0)
    assert feed_mark(user_id=1001, action="unread", ids=[a])[1] == FeedCounts(2, 0)  # still seen
    assert feed_mark(user_id=1001, action="unarchived", ids=[c])[1] == FeedCounts(3, 1)
    assert feed_mark(user_id=1001, action="read")[1] == FeedCounts(0, 0)  # all
    assert real_counts(1001) == FeedCounts(0, 0)


def test_marking_all_of_one_category_leaves_the_others():
    messages(1001, 2, category="billing")
    messages(1001, 1, category="security")
    changed, counts = feed_mark(user_id=1001, action="read", category="billing")
    assert len(changed) == 2 and counts == FeedCounts(1, 1) == real_counts(1001)


def test_another_users_messages_are_left_alone():
    mine = messages(1001, 1)
    theirs = messages(1002, 1)
    assert feed_mark(user_id=1001, action="read", ids=mine + theirs) == (mine, FeedCounts(0, 0))
    assert feed_counts_get(user_id=1002) == FeedCounts(1, 1)


@pytest.mark.parametrize("ids, problem", [
    ([], "Name at least one message id."),
    (["1"], "Must be message ids (positive integers)."),
    ([True], "Must be message ids (positive integers)."),
    ([0], "Must be message ids (positive integers)."),
    (list(range(1, 1002)), "At most 1000 ids per call; mark all to change every message."),
])
def test_bad_ids_are_refused(ids, problem):
    with pytest.raises(ValidationError) as refused:
        feed_mark(user_id=1001, action="read", ids=ids)
    assert refused.value.message_dict == {"ids": [problem]}


def test_an_unknown_action_is_refused():
    with pytest.raises(ValidationError) as refused:
        feed_mark(user_id=1001, action="starred", ids=[1])
    assert refused.value.message_dict == {"action": ["Must be one of: seen, read, unread, archived, unarchived."]}


def test_the_purge_takes_old_read_or_archived_messages_and_keeps_the_counts(settings):
    settings.INBOX_RETENTION_DAYS = 30
    old_read, old_archived, old_unread, new_read = messages(1001, 4)
    feed_mark(user_id=1001, action="read", ids=[old_read, new_read])
    feed_mark(user_id=1001, action="archived", ids=[old_archived])
    FeedMessage.objects.exclude(pk=new_read).update(created_at=timezone.now() - dt.timedelta(days=31))
    assert feed_purge() == 2
    assert sorted(FeedMessage.objects.values_list("pk", flat=True)) == [old_unread, new_read]
    assert feed_counts_get(user_id=1001) == FeedCounts(1, 1) == real_counts(1001)
    settings.INBOX_RETENTION_DAYS = 0
    assert feed_purge() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks under concurrency: PostgreSQL")
def test_two_thousand_concurrent_marks_from_eight_threads_leave_every_counter_right():
    users = [1001, 1002, 1003]
    ids = {user: messages(user, 40) for user in users}
    actions = ["seen", "read", "unread", "archived", "unarchived"]
    errors: list[BaseException] = []

    def work(seed: int, operations: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(operations):
                user = rng.choice(users)
                if rng.random() < 0.05:
                    feed_mark(user_id=user, action=rng.choice(actions))  # all of them
                else:
                    feed_mark(user_id=user, action=rng.choice(actions), ids=rng.sample(ids[user], rng.randint(1, 4)))
                if rng.random() < 0.02:
                    ids[user].append(feed_message_create(user_id=user, title="new", body="b")[0].pk)
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(seed, 250)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    for user in users:
        assert feed_counts_get(user_id=user) == real_counts(user), user
    assert FeedCounter.objects.count() == 3


def test_purge_logs_purges_old_read_messages_on_its_schedule(settings, capsys):
    from django.core.management import call_command

    settings.INBOX_RETENTION_DAYS = 30
    old_read, old_unread = messages(1001, 2)
    feed_mark(user_id=1001, action="read", ids=[old_read])
    FeedMessage.objects.update(created_at=timezone.now() - dt.timedelta(days=31))
    call_command("purge_logs", "--older-than", "90", "--dry-run")
    assert "Would delete 1 read or archived in-app message." in capsys.readouterr().out
    call_command("purge_logs", "--older-than", "90")
    assert "Deleted 1 read or archived in-app message." in capsys.readouterr().out
    assert list(FeedMessage.objects.values_list("pk", flat=True)) == [old_unread]


def test_erasing_a_user_deletes_their_feed_and_counters():
    from logs_app.privacy import user_data_erase

    messages(1001, 2)
    messages(1002, 1)
    user_data_erase(user_id=1001)
    assert list(FeedMessage.objects.values_list("user_id", flat=True)) == [1002]
    assert feed_counts_get(user_id=1001) == FeedCounts(0, 0) and feed_counts_get(user_id=1002) == FeedCounts(1, 1)


def test_each_committed_change_is_published_for_live_clients(settings, django_capture_on_commit_callbacks):
    from inbox_app import live

    client = live.redis_client()
    if client is None:
        pytest.skip("live updates need REDIS_URL")
    client.delete(live.user_stream(1001))
    with django_capture_on_commit_callbacks(execute=True):
        (first,) = messages(1001, 1)
    with django_capture_on_commit_callbacks(execute=True):
        feed_mark(user_id=1001, action="read", ids=[first])
    events = [(fields[b"event"], fields[b"data"]) for _, fields in client.xrange(live.user_stream(1001))]
    assert events == [
        (b"message", f'{{"action":"created","ids":[{first}],"unread_count":1,"unseen_count":1}}'.encode()),
        (b"counts", f'{{"action":"read","ids":[{first}],"unread_count":0,"unseen_count":0}}'.encode())]
