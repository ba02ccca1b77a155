"""The delivery dashboard: staff only, linked from the admin index, counts and failures from the logs."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from logs_app.models import NotificationLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliveries(db):
    def log(channel, provider, status, *, hours_ago=1, error=None):
        entry = NotificationLog.objects.create(user_id=1, type=channel, provider=provider, status=status,
                                               error_message=error)
        NotificationLog.objects.filter(pk=entry.pk).update(created_at=timezone.now() - dt.timedelta(hours=hours_ago))
        return entry

    for _ in range(6):
        log("sms", "twilio", "sent")
    log("sms", "twilio", "delivered")
    log("sms", "twilio", "failed", error="Twilio 21211: The 'To' number is not a valid phone number.")
    log("email", "django-mail", "bounced", error="550 5.1.1 mailbox unavailable")
    log("push", "", "suppressed")
    log("push", "apns", "sent", hours_ago=72)  # in the 7 days, not the 24 hours
    log("email", "django-mail", "failed", hours_ago=24 * 10)  # in neither
    # Written here behind the pipeline's back, so the rollup the dashboard reads is rebuilt from them.
    call_command("log_counts_check", "--all", "--repair")


def test_staff_sees_counts_and_recent_failures(admin_client, deliveries, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("delivery-dashboard"))
    assert response.status_code == 200
    day, week = response.context["periods"]
    rows = {(row.channel, row.provider): row.counts for row in day.rows}
    assert rows == {("sms", "twilio"): {"sent": 6, "delivered": 1, "failed": 1},
                    ("email", "django-mail"): {"bounced": 1}, ("push", ""): {"suppressed": 1}}
    assert (day.total, week.total) == (10, 11)
    assert {(row.channel, row.provider) for row in week.rows} >= {("push", "apns")}
    sms = next(row for row in day.rows if row.channel == "sms")
    assert sms.success_rate == 87.5
    html = response.content.decode()
    assert "Twilio 21211: The &#x27;To&#x27; number is not a valid phone number." in html
    assert "550 5.1.1 mailbox unavailable" in html and "<svg" in html
    assert html.count('class="dash-bar"') == len(day.rows) + len(week.rows)


def test_an_empty_dashboard_says_so(admin_client):
    html = admin_client.get(reverse("delivery-dashboard")).content.decode()
    assert "No notifications in the last 24 hours." in html and "No failures." in html


def test_the_admin_index_links_to_it(admin_client):
    assert reverse("delivery-dashboard") in admin_client.get(reverse("admin:index")).content.decode()


def test_strangers_and_non_staff_are_sent_to_login(client, django_user_model):
    assert client.get(reverse("delivery-dashboard"))["Location"].startswith(reverse("admin:login"))
    user = django_user_model.objects.create_user("ops-viewer", password="not-staff-pw-123")
    client.force_login(user)
    assert client.get(reverse("delivery-dashboard"))["Location"].startswith(reverse("admin:login"))
