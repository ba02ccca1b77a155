import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from consent_app.models import ConsentRecord
from preferences_app.categories import settings_get, settings_update
from preferences_app.models import UserPreference
from preferences_app.services import preference_update
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


def test_the_preference_page_lists_choices_per_category_and_kind(admin_client):
    settings_update(user_id=1001, categories={"marketing": {"sms": False}})
    preference = UserPreference.objects.get(user_id=1001)
    html = admin_client.get(reverse("admin:preferences_app_userpreference_change", args=[preference.pk])).content.decode()
    assert "Choices per category or kind" in html
    assert 'selected>marketing</option>' in html


@pytest.fixture
def staff_client(client, django_user_model):
    """A staff member (not a superuser) allowed to view and change preferences and their choices."""
    staff = django_user_model.objects.create_user("operator", password="pw-for-tests-only", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__in=[
        "view_userpreference", "change_userpreference", "add_userpreference", "view_notificationsetting",
        "change_notificationsetting", "add_notificationsetting", "delete_notificationsetting", "view_device",
        "change_device", "view_category", "view_notificationkind"]))
    client.force_login(staff)
    return client


def submitted(response, **changes) -> dict:
    """What a browser posts back for the admin page as shown, with `changes` (a checkbox: True/False)."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): field.value() for name, field in
                     ((name, management[name]) for name in management.fields)})
        forms += inline.formset.forms
    for form in forms:
        for name in form.fields:
            data[form.add_prefix(name)] = form[name].value()
    data.update(changes)
    return {name: ("on" if value is True else value) for name, value in data.items()
            if value is not None and value is not False}


def test_changes_saved_in_the_admin_are_consent_records_with_source_admin(staff_client):
    marketing = CategoryFactory(key="marketing", name="Marketing")
    preference = preference_update(user_id=1001, email="ada@example.com")
    url = reverse("admin:preferences_app_userpreference_change", args=[preference.pk])

    page = staff_client.get(url)
    data = submitted(page, email_enabled=False, timezone="Europe/Berlin", quiet_hours_start="22:00",
                     quiet_hours_end="07:00", **{"notification_settings-TOTAL_FORMS": "1",
                                                 "notification_settings-0-category": str(marketing.pk),
                                                 "notification_settings-0-channel": "sms",
                                                 "notification_settings-0-enabled": "on"})
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert settings_get(user_id=1001)["categories"] == {"marketing": {"sms": True}}
    records = list(ConsentRecord.objects.filter(user_id=1001).values_list("source", "field", "old_value", "new_value"))
    assert records == [("admin", "email_enabled", "on", "off"), ("admin", "quiet_hours_end", None, "07:00"),
                       ("admin", "quiet_hours_start", None, "22:00"), ("admin", "timezone", "UTC", "Europe/Berlin"),
                       ("admin", "categories.marketing.sms", None, "on")]

    page = staff_client.get(url)  # saved again as shown, but the choice deleted: one record, nothing else
    response = staff_client.post(url, submitted(page, **{"notification_settings-0-DELETE": "on"}))
    assert response.status_code == 302
    assert settings_get(user_id=1001)["categories"] == {}
    assert list(ConsentRecord.objects.filter(user_id=1001).values_list("source", "field", "old_value", "new_value")
                )[5:] == [("admin", "categories.marketing.sms", "on", None)]


def test_a_preference_added_in_the_admin_records_what_differs_from_the_defaults(staff_client):
    add = reverse("admin:preferences_app_userpreference_add")
    data = submitted(staff_client.get(add), user_id="1002", sms_enabled=False, email="bob@example.com")
    response = staff_client.post(add, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert UserPreference.objects.get(user_id=1002).email == "bob@example.com"
    assert list(ConsentRecord.objects.filter(user_id=1002).values_list("source", "field", "old_value", "new_value")
                ) == [("admin", "sms_enabled", "on", "off")]


def test_the_user_id_of_saved_preferences_cannot_be_changed_in_the_admin(staff_client):
    preference = preference_update(user_id=1001)
    url = reverse("admin:preferences_app_userpreference_change", args=[preference.pk])
    response = staff_client.post(url, {**submitted(staff_client.get(url)), "user_id": "1003"})
    assert response.status_code == 302
    assert list(UserPreference.objects.values_list("user_id", flat=True)) == [1001]
