"""The admin console as a staff member and as a stranger sees it."""

import json
import re

import pytest
from django.urls import reverse

from preferences_app.models import UserPreference
from templates_app.models import NotificationTemplate
from tests.factories import DeviceFactory, NotificationLogFactory, NotificationTemplateFactory

pytestmark = pytest.mark.django_db

PAGES = [
    "admin:templates_app_notificationtemplate_changelist",
    "admin:templates_app_notificationtemplate_add",
    "admin:logs_app_notificationlog_changelist",
    "admin:preferences_app_userpreference_changelist",
    "admin:preferences_app_userpreference_add",
    "admin:preferences_app_device_changelist",
    "admin:apikeys_app_apikey_changelist",
    "admin:apikeys_app_apikey_add",
]


@pytest.mark.parametrize("name", PAGES)
def test_staff_sees_every_page(admin_client, name):
    NotificationLogFactory()
    DeviceFactory()
    assert admin_client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_change_pages_render_with_data(admin_client):
    log = NotificationLogFactory()
    device = DeviceFactory()
    for url in (reverse("admin:templates_app_notificationtemplate_change", args=[log.template_id]),
                reverse("admin:logs_app_notificationlog_change", args=[log.pk]),
                reverse("admin:preferences_app_userpreference_change", args=[device.preference_id])):
        assert admin_client.get(url).status_code == 200


def test_template_change_page_shows_preview_panel_and_history(admin_client, template):
    page = admin_client.get(reverse("admin:templates_app_notificationtemplate_change", args=[template.pk]))
    html = page.content.decode()
    assert 'id="template-preview"' in html
    assert "Version history" in html
    assert '"first_name": "Ada"' in html  # the sample context starts from the example values


def test_logs_are_read_only(admin_client):
    log = NotificationLogFactory()
    url = reverse("admin:logs_app_notificationlog_change", args=[log.pk])
    assert b'name="status"' not in admin_client.get(url).content
    assert admin_client.post(url, {"status": "sent"}).status_code == 403


def test_logs_filter_by_status_and_search_by_user(admin_client):
    NotificationLogFactory(user_id=4242, status="failed")
    NotificationLogFactory(user_id=7, status="sent")
    changelist = reverse("admin:logs_app_notificationlog_changelist")
    assert admin_client.get(changelist, {"q": "4242"}).context["cl"].result_count == 1
    assert admin_client.get(changelist, {"status__exact": "sent"}).context["cl"].result_count == 1


def preview(admin_client, **fields):
    data = {"type": "email", "subject": "Hi {{ name }}", "body": "Hello {{ name }}", "html_body": "",
            "variables": "", "context": json.dumps({"name": "Ada"}), **fields}
    return admin_client.post(reverse("admin:templates_app_notificationtemplate_preview"), data).json()


def test_preview_renders_unsaved_text(admin_client):
    assert preview(admin_client, html_body="<b>{{ name }}</b>") == {
        "ok": True, "subject": "Hi Ada", "body": "Hello Ada", "html_body": "<b>Ada</b>", "context": {"name": "Ada"}}


def test_preview_shows_render_errors_inline(admin_client):
    assert preview(admin_client, context="{not json")["errors"]["context"][0].startswith("Not valid JSON")
    assert "body" in preview(admin_client, body="{% if %}")["errors"]


def test_the_sample_context_follows_the_declared_variables(admin_client):
    """A variable declared after the page loaded joins the sample with its example; one no longer
    declared leaves it; values typed for the others are kept."""
    result = preview(admin_client, body="Hello {{ name }}, code {{ code }}",
                     variables=json.dumps({"name": "Grace", "code": "4711"}),
                     context=json.dumps({"name": "Ada", "product": "Acme"}))
    assert result["ok"] and result["context"] == {"name": "Ada", "code": "4711"}
    assert result["body"] == "Hello Ada, code 4711"
    derived = preview(admin_client, body="Hello {{ name }}, code {{ code }}", context=json.dumps({"name": "Ada"}))
    assert derived["context"] == {"name": "Ada", "code": "<code>"}


@pytest.mark.parametrize("variables", ["", "{}"])
def test_preview_and_save_read_empty_variables_alike(admin_client, variables):
    """An empty Variables box and {} both derive the names from the text, in the preview and on save."""
    assert preview(admin_client, variables=variables)["ok"]
    response = admin_client.post(reverse("admin:templates_app_notificationtemplate_add"), {
        "name": f"derived{len(variables)}", "type": "email", "subject": "Hi {{ name }}", "body": "Hello {{ name }}",
        "html_body": "", "variables": variables, "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0", "versions-MAX_NUM_FORMS": "1000"})
    assert response.status_code == 302, response.content
    assert NotificationTemplate.objects.get(name=f"derived{len(variables)}").variables == {"name": None}


def test_preview_blames_the_text_for_an_undeclared_name(admin_client):
    errors = preview(admin_client, subject="Hi", body="Hello {{ nme }}", variables=json.dumps({"name": "Ada"}))["errors"]
    assert "nme" in errors["body"][0] and "subject" not in errors
    assert errors["variables"] == ["Declared but not used: name (no placeholder names it)."]


def test_the_add_page_starts_with_empty_variables_and_no_errors(admin_client):
    page = admin_client.get(reverse("admin:templates_app_notificationtemplate_add")).content.decode()
    assert re.search(r'<textarea name="variables"[^>]*>\s*</textarea>', page)
    assert 'class="errorlist"' not in page.split('id="template-preview"')[0]
    assert ">HTML body" in page


def test_preview_needs_staff(client):
    response = client.post(reverse("admin:templates_app_notificationtemplate_preview"), {"body": "x"})
    assert response.status_code == 302


def test_saving_in_the_admin_keeps_a_version(admin_client, template):
    url = reverse("admin:templates_app_notificationtemplate_change", args=[template.pk])
    response = admin_client.post(url, {
        "name": template.name, "type": "email", "subject": template.subject, "html_body": "",
        "body": "Changed {{ first_name }} {{ code }}", "variables": json.dumps(template.variables),
        "versions-TOTAL_FORMS": "1", "versions-INITIAL_FORMS": "1", "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000", "versions-0-id": template.versions.get().pk,
        "versions-0-template": template.pk,
    })
    assert response.status_code == 302, response.content
    template.refresh_from_db()
    assert template.version == 2
    assert template.versions.get(version=1).body == "Hi {{ first_name }}, your code is {{ code }}."


def test_admin_form_shows_template_errors_on_the_field(admin_client):
    response = admin_client.post(reverse("admin:templates_app_notificationtemplate_add"), {
        "name": "broken", "type": "email", "subject": "Hi", "body": "{{ oops", "html_body": "", "variables": "",
        "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0", "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    })
    assert response.status_code == 200
    assert "Template syntax error on line 1" in str(response.context["adminform"].form.errors["body"])
    assert not NotificationTemplate.objects.filter(name="broken").exists()


# Polish seen in a browser at 1400x1000 (issue #13, item 10) ----------------------------------------


def test_the_index_has_no_view_site_link_and_operations_sit_with_the_apps(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert "View site" not in html
    main = html.split('id="content-main"', 1)[1].split('id="content-related"', 1)[0]
    assert "Delivery dashboard" in main and "Outcomes per channel" in main


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_api_key_scopes_read_as_words(admin_client):
    from apikeys_app.services import api_key_create

    api_key_create(name="words", scopes=["send", "read"])
    html = admin_client.get(reverse("admin:apikeys_app_apikey_changelist")).content.decode()
    assert "send, read" in html and "[&quot;send&quot;" not in html


def test_labels_spell_sms_and_html(admin_client, template):
    preference = UserPreference.objects.create(user_id=77)
    html = admin_client.get(reverse("admin:preferences_app_userpreference_change", args=[preference.pk])).content
    assert b"SMS enabled" in html and b"Sms enabled" not in html
    html = admin_client.get(reverse("admin:templates_app_notificationtemplate_change", args=[template.pk])).content
    assert b"HTML body" in html and b"Html body" not in html


def test_the_devices_list_links_each_device_and_its_users_preferences(admin_client):
    device = DeviceFactory()
    html = admin_client.get(reverse("admin:preferences_app_device_changelist")).content.decode()
    assert reverse("admin:preferences_app_device_change", args=[device.pk]) in html
    preferences = reverse("admin:preferences_app_userpreference_change", args=[device.preference_id])
    assert f'<a href="{preferences}">Preferences of user {device.preference.user_id}</a>' in html


def test_long_lists_show_short_columns(admin_client):
    NotificationLogFactory()
    UserPreference.objects.create(user_id=78, quiet_hours_start="22:00", quiet_hours_end="07:00")
    logs = admin_client.get(reverse("admin:logs_app_notificationlog_changelist")).content.decode()
    assert re.search(r"<td class=\"field-created\">\d{4}-\d\d-\d\d \d\d:\d\d</td>", logs)
    preferences = admin_client.get(reverse("admin:preferences_app_userpreference_changelist")).content.decode()
    assert "22:00–07:00" in preferences
