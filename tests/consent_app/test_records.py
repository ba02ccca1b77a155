"""Consent records: each change of a user's choices, by any door, kept with its time, source and values."""

import json

import pytest
from django.urls import reverse

from consent_app.models import ConsentRecord
from consent_app.services import suppression_add, suppression_remove
from kinds_app.models import Category
from logs_app.privacy import user_data_erase, user_data_export
from preferences_app.categories import settings_update
from preferences_app.services import preference_update
from tests.graphql.conftest import api_key, gql  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(db):
    Category.objects.get_or_create(key="marketing", defaults={"name": "Marketing"})
    return preference_update(user_id=1001, email="ada@example.com", phone_number="+4915112345678")


def history(user_id=1001):
    return [(r.source, r.field, r.old_value, r.new_value)
            for r in ConsentRecord.objects.filter(user_id=user_id).order_by("created_at", "id")]


def test_rest_changes_of_switches_quiet_hours_and_choices_are_recorded_with_old_and_new(make_client, ada):
    client = make_client("manage")
    assert client.patch("/api/v1/preferences/1001/", {"sms_enabled": False, "quiet_hours_start": "22:00",
                                                      "quiet_hours_end": "07:00", "email": "new@example.com"},
                        format="json").status_code == 200
    assert client.patch("/api/v1/preferences/1001/settings/", {"categories": {"marketing": {"email": False}}},
                        format="json").status_code == 200
    assert client.patch("/api/v1/preferences/1001/settings/", {"categories": {"marketing": {"email": None}}},
                        format="json").status_code == 200
    assert history() == [
        ("api", "quiet_hours_end", None, "07:00"),
        ("api", "quiet_hours_start", None, "22:00"),
        ("api", "sms_enabled", "on", "off"),
        ("api", "categories.marketing.email", None, "off"),
        ("api", "categories.marketing.email", "off", None),
    ]


def test_an_update_that_changes_nothing_records_nothing(make_client, ada):
    client = make_client("manage")
    assert client.patch("/api/v1/preferences/1001/", {"email_enabled": True}, format="json").status_code == 200
    assert history() == []


def test_graphql_changes_are_recorded_as_graphql(gql, ada):  # noqa: F811
    answer = gql("""mutation { updateUserPreferences(userId: 1001, input: {pushEnabled: false}) { pushEnabled } }""")
    assert "errors" not in answer, answer
    answer = gql("""mutation { updateNotificationSettings(userId: 1001, settings: [
                      {category: "marketing", channel: SMS, enabled: false}]) { channel enabled } }""")
    assert "errors" not in answer, answer
    assert history() == [("graphql", "push_enabled", "on", "off"), ("graphql", "categories.marketing.sms", None, "off")]


def test_the_suppression_list_records_its_entries_and_removals_for_the_users_with_the_address(ada):
    preference_update(user_id=1002, email="ADA@example.com")
    entry = suppression_add(channel="email", address="Ada@Example.com", reason="hard_bounce", source="mailgun")
    suppression_remove(suppression_id=entry.pk, source="api")
    expected = [("suppression", "suppression.email", None, "hard_bounce"),
                ("suppression", "suppression.email", "hard_bounce", None)]
    assert history(1001) == history(1002) == expected
    details = list(ConsentRecord.objects.filter(user_id=1001).values_list("detail", flat=True))
    assert details == ["ada@example.com (mailgun)", "ada@example.com (removed: api)"]


def test_the_export_lists_the_consent_records_and_erasure_anonymises_them(ada):
    settings_update(user_id=1001, categories={"marketing": {"email": False}}, source="preference_page")
    suppression_add(channel="sms", address="+4915112345678", reason="sms_opt_out", source="twilio")
    data = json.loads("".join(user_data_export(user_id=1001)))
    assert [(r["source"], r["field"], r["old_value"], r["new_value"], r["detail"]) for r in data["consent_records"]] == [
        ("preference_page", "categories.marketing.email", None, "off", ""),
        ("suppression", "suppression.sms", None, "sms_opt_out", "+4915112345678 (twilio)"),
    ]
    assert all(record["at"] for record in data["consent_records"])

    user_data_erase(user_id=1001)
    assert history(1001) == []
    assert list(ConsentRecord.objects.values_list("user_id", "field", "detail")) == [
        (0, "categories.marketing.email", ""), (0, "suppression.sms", "")]
    assert json.loads("".join(user_data_export(user_id=1001)))["consent_records"] == []


def test_operators_read_the_history_in_the_admin_and_cannot_change_it(admin_client, ada):
    preference_update(user_id=1001, email_enabled=False, source="api")
    preference_update(user_id=1002, sms_enabled=False, source="api")
    url = reverse("admin:consent_app_consentrecord_changelist")
    page = admin_client.get(f"{url}?user_id=1001").content.decode()
    assert "email_enabled" in page and "sms_enabled" not in page
    record = ConsentRecord.objects.get(user_id=1001)
    assert admin_client.post(reverse("admin:consent_app_consentrecord_delete", args=[record.pk]),
                             {"post": "yes"}).status_code == 403
    assert admin_client.get(reverse("admin:consent_app_consentrecord_add")).status_code == 403
    change = admin_client.get(reverse("admin:preferences_app_userpreference_change", args=[ada.pk])).content.decode()
    assert f"{url}?user_id=1001" in change
