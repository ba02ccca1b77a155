"""Retention and GDPR requests: purge, export and erase take exactly what they should, by command and API."""

import datetime as dt
import json
import subprocess
import sys

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from logs_app.models import NotificationLog
from logs_app import privacy
from logs_app.privacy import ERASED_USER_ID, logs_purge, user_data_erase, user_data_export
from preferences_app.models import Device, UserPreference
from preferences_app.services import device_add, preference_update
from tests.ops.conftest import IOS_TOKEN
from tests.workers import ROOT

pytestmark = pytest.mark.django_db


def make_log(*, user_id=1001, status="sent", age_days=0, **fields) -> NotificationLog:
    fields = {"recipient": "+4915112345678", "body": "Your code is 4711.", "provider": "twilio", **fields}
    log = NotificationLog.objects.create(user_id=user_id, type="sms", status=status, **fields)
    if age_days:
        NotificationLog.objects.filter(pk=log.pk).update(created_at=timezone.now() - dt.timedelta(days=age_days))
    return log


# Purge ----------------------------------------------------------------------------------------


@pytest.fixture
def aged_logs(db):
    return {
        "old_sent": make_log(status="sent", age_days=100),
        "old_failed": make_log(status="failed", age_days=95),
        "old_delivered": make_log(status="delivered", age_days=91),
        "old_pending": make_log(status="pending", age_days=120),  # still owed: never purged
        "recent_sent": make_log(status="sent", age_days=89),
        "today": make_log(status="failed"),
    }


def remaining(logs) -> set[str]:
    ids = set(NotificationLog.objects.values_list("id", flat=True))
    return {name for name, log in logs.items() if log.pk in ids}


def test_purge_deletes_old_finished_logs_only(aged_logs):
    result = logs_purge(older_than_days=90, batch_size=2)  # several batches
    assert result.by_status == {"sent": 1, "failed": 1, "delivered": 1}
    assert remaining(aged_logs) == {"old_pending", "recent_sent", "today"}


def test_purge_walks_past_kept_logs_and_a_second_run_finds_nothing(db):
    logs = {}
    for index in range(9):  # old pending logs between old finished ones, then newer logs after the cutoff
        logs[f"old_{index}"] = make_log(status="pending" if index % 3 == 0 else "sent", age_days=100)
    logs["new_sent"] = make_log(status="sent", age_days=10)
    logs["new_failed"] = make_log(status="failed")
    assert logs_purge(older_than_days=90, batch_size=2).by_status == {"sent": 6}
    assert remaining(logs) == {"old_0", "old_3", "old_6", "new_sent", "new_failed"}
    assert logs_purge(older_than_days=90, batch_size=2).total == 0
    assert logs_purge(older_than_days=5, batch_size=1000).by_status == {"sent": 1}


def test_purge_dry_run_counts_and_deletes_nothing(aged_logs):
    result = logs_purge(older_than_days=90, dry_run=True)
    assert result.total == 3 and remaining(aged_logs) == set(aged_logs)


def test_purge_command_prints_counts(aged_logs, capsys):
    call_command("purge_logs", "--older-than", "90", "--dry-run")
    assert "Would delete 3 logs" in capsys.readouterr().out and remaining(aged_logs) == set(aged_logs)
    call_command("purge_logs", "--older-than", "90", "--batch-size", "1")
    out = capsys.readouterr().out
    assert "Deleted 3 logs" in out and "delivered 1, failed 1, sent 1" in out
    with pytest.raises(CommandError):
        call_command("purge_logs", "--older-than", "0")


def test_purge_keep_logs_leaves_the_logs_to_the_partitions(aged_logs, capsys):
    call_command("purge_logs", "--older-than", "90", "--keep-logs")
    out = capsys.readouterr().out
    assert "Deleted 0 idempotency keys" in out and "created before" not in out
    assert remaining(aged_logs) == set(aged_logs)


# Export and erase -------------------------------------------------------------------------------


@pytest.fixture
def data_of_two_users(db):
    preference_update(user_id=1001, email="ada@example.com", phone_number="+4915112345678", sms_enabled=False)
    device_add(user_id=1001, platform="ios", token=IOS_TOKEN)
    preference_update(user_id=1002, email="bob@example.com")
    device_add(user_id=1002, platform="ios", token="aa" * 32)
    return {
        "ada_sent": make_log(user_id=1001, notification_metadata={"segments": 1}, idempotency_key="ada-order-1",
                             request_hash="d" * 64),
        "ada_failed": make_log(user_id=1001, status="failed", error_message="The 'To' number +4915112345678 is bad"),
        "ada_pending": make_log(user_id=1001, status="pending"),
        "bob_sent": make_log(user_id=1002, recipient="+14155550100", body="Hi Bob"),
    }


def exported(user_id: int) -> dict:
    return json.loads("".join(user_data_export(user_id=user_id)))


def test_export_holds_everything_about_the_user_and_nothing_else(data_of_two_users):
    data = exported(1001)
    assert data["user_id"] == 1001
    assert data["preferences"]["email"] == "ada@example.com" and data["preferences"]["sms_enabled"] is False
    assert data["preferences"]["phone_number"] == "+4915112345678"
    assert [d["token"] for d in data["devices"]] == [IOS_TOKEN]
    assert [n["id"] for n in data["notifications"]] == [data_of_two_users[k].pk
                                                       for k in ("ada_sent", "ada_failed", "ada_pending")]
    assert data["notifications"][0]["body"] == "Your code is 4711." and "Hi Bob" not in json.dumps(data)
    stranger = exported(4242)
    assert (stranger["preferences"], stranger["devices"], stranger["notifications"]) == (None, [], [])


def test_erase_removes_contact_points_and_anonymises_logs(data_of_two_users):
    result = user_data_erase(user_id=1001)
    assert (result.preferences_deleted, result.devices_deleted, result.logs_anonymised, result.logs_cancelled) \
        == (1, 1, 3, 1)
    assert not UserPreference.objects.filter(user_id=1001).exists()
    assert not Device.objects.filter(token=IOS_TOKEN).exists()
    assert NotificationLog.objects.filter(user_id=1001).count() == 0
    erased = {log.pk: log for log in NotificationLog.objects.filter(user_id=ERASED_USER_ID)}
    assert set(erased) == {data_of_two_users[k].pk for k in ("ada_sent", "ada_failed", "ada_pending")}
    for log in erased.values():
        assert (log.recipient, log.subject, log.body, log.html_body) == ("", "", "", "")
        assert log.notification_metadata is None and log.idempotency_key is None and log.request_hash is None
        assert "+4915112345678" not in (log.error_message or "")
        assert log.provider == "twilio"  # the counts per channel, provider and status still add up
    assert erased[data_of_two_users["ada_sent"].pk].status == "sent"
    assert erased[data_of_two_users["ada_failed"].pk].status == "failed"
    assert erased[data_of_two_users["ada_pending"].pk].status == "suppressed"  # never sent now
    # The other user is untouched.
    bob = NotificationLog.objects.get(pk=data_of_two_users["bob_sent"].pk)
    assert (bob.user_id, bob.recipient, bob.body) == (1002, "+14155550100", "Hi Bob")
    assert UserPreference.objects.get(user_id=1002).email == "bob@example.com" and Device.objects.count() == 1
    assert exported(1001)["notifications"] == []


def test_export_reads_the_logs_a_chunk_at_a_time_oldest_first(db, monkeypatch):
    monkeypatch.setattr("logs_app.privacy.EXPORT_CHUNK", 2)
    same_moment = timezone.now() - dt.timedelta(days=1)
    logs = [make_log(age_days=3), make_log(age_days=2)]
    for _ in range(3):  # created in the same instant: the id breaks the tie, across chunk boundaries too
        log = make_log()
        NotificationLog.objects.filter(pk=log.pk).update(created_at=same_moment)
        logs.append(log)
    logs.append(make_log())
    make_log(user_id=1002)
    pieces = list(user_data_export(user_id=1001))
    # The head, one piece per log, the consent records' opening (none here), the end: nothing held back.
    assert len(pieces) == 3 + len(logs)
    assert [n["id"] for n in json.loads("".join(pieces))["notifications"]] == [log.pk for log in logs]


def test_a_bad_user_id_is_refused_before_anything_is_written(db):
    with pytest.raises(ValidationError):
        user_data_export(user_id=0)


def test_erase_runs_in_batches_and_a_second_run_finishes_an_interrupted_one(data_of_two_users, monkeypatch):
    more = [make_log(user_id=1001, status="pending" if index == 2 else "sent") for index in range(4)]
    real_batch, batches = privacy._erase_logs, []

    def crash_on_third_batch(rows):
        batches.append(len(rows))
        if len(batches) == 3:
            raise RuntimeError("the process was killed")
        return real_batch(rows)

    monkeypatch.setattr(privacy, "_erase_logs", crash_on_third_batch)
    with pytest.raises(RuntimeError):
        user_data_erase(user_id=1001, batch_size=2)
    assert not UserPreference.objects.filter(user_id=1001).exists()  # contact points went first
    assert NotificationLog.objects.filter(user_id=1001).count() == 3  # two batches done, the third rolled back
    monkeypatch.setattr(privacy, "_erase_logs", real_batch)
    result = user_data_erase(user_id=1001, batch_size=2)
    assert (result.preferences_deleted, result.logs_anonymised, result.logs_cancelled) == (0, 3, 1)
    assert NotificationLog.objects.filter(user_id=1001).count() == 0
    assert NotificationLog.objects.filter(user_id=ERASED_USER_ID, status="suppressed").count() == 2
    assert NotificationLog.objects.get(pk=more[2].pk).error_message == privacy.CANCELLED_ON_ERASURE


def test_erase_command_asks_unless_told_not_to(data_of_two_users, monkeypatch, capsys):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError):
        call_command("erase_user_data", "1001")
    assert UserPreference.objects.filter(user_id=1001).exists()
    call_command("erase_user_data", "1001", "--no-input")
    assert "Erased user 1001" in capsys.readouterr().out
    assert not UserPreference.objects.filter(user_id=1001).exists()


def test_export_command_writes_json(data_of_two_users, tmp_path, capsys):
    call_command("export_user_data", "1001")
    assert json.loads(capsys.readouterr().out)["user_id"] == 1001
    call_command("export_user_data", "1001", "--output", str(tmp_path / "ada.json"))
    assert len(json.loads((tmp_path / "ada.json").read_text())["notifications"]) == 3


def test_the_export_command_process_loads_neither_the_system_checks_nor_graphql():
    """Its peak RSS is the process's: the system checks would load the URL conf with the admin and every door
    (about 25 MiB), and strawberry (7 MiB) is for GraphQL, not for the replica routing the export reads through."""
    script = ("import sys\n"
              "from django.core.management import execute_from_command_line\n"
              "try:\n"
              "    execute_from_command_line(['manage.py', 'export_user_data', '0'])\n"
              "except SystemExit as stop:\n"
              "    print(stop.code)\n"
              "print(sorted(m for m in ('notifications_project.urls', 'strawberry') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "DEBUG": "true",
                              "DJANGO_SETTINGS_MODULE": "notifications_project.settings"})
    assert out.stdout.split("\n")[:2] == ["1", "[]"], out.stderr  # user 0 refused, after what start-up loads
    assert "whole number" in out.stderr


def test_rest_export_and_erase_need_the_manage_scope(data_of_two_users, make_client):
    reader = make_client("read", "send")
    assert reader.get("/api/v1/users/1001/export/").status_code == 403
    assert reader.post("/api/v1/users/1001/erase/").status_code == 403
    manager = make_client("manage")
    response = manager.get("/api/v1/users/1001/export/")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = json.loads(b"".join(response.streaming_content))
    assert body["preferences"]["email"] == "ada@example.com" and len(body["notifications"]) == 3
    response = manager.post("/api/v1/users/1001/erase/")
    assert response.status_code == 200
    assert {k: response.json()[k] for k in ("user_id", "devices_deleted", "logs_anonymised", "logs_cancelled")} == \
        {"user_id": 1001, "devices_deleted": 1, "logs_anonymised": 3, "logs_cancelled": 1}
    assert json.loads(b"".join(manager.get("/api/v1/users/1001/export/").streaming_content))["notifications"] == []
    bad = manager.post(f"/api/v1/users/{2**31}/erase/")
    assert bad.status_code == 400 and bad.json()["status_code"] == 400


def test_erased_contact_points_are_not_served_from_the_cache(data_of_two_users):
    from preferences_app.services import preference_get_or_create

    assert preference_get_or_create(user_id=1001).email == "ada@example.com"  # now cached
    user_data_erase(user_id=1001)
    assert preference_get_or_create(user_id=1001).email == ""


@pytest.mark.django_db
def test_export_shows_the_users_topics_and_choices_and_erasure_takes_them_away():
    from kinds_app.models import TopicSubscription
    from kinds_app.topics import topic_subscribe
    from preferences_app.categories import settings_update

    topic_subscribe(key="watchers", user_ids=[4242, 7])
    settings_update(user_id=4242, categories={"marketing": {"email": False}})
    data = json.loads("".join(user_data_export(user_id=4242)))
    assert data["topics"] == ["watchers"]
    assert data["preferences"]["notification_settings"] == {"categories": {"marketing": {"email": False}}, "kinds": {}}
    user_data_erase(user_id=4242)
    assert list(TopicSubscription.objects.values_list("user_id", flat=True)) == [7]
    assert json.loads("".join(user_data_export(user_id=4242)))["topics"] == []
