import pytest
from django.urls import reverse

from preferences_app.categories import settings_update
from preferences_app.models import UserPreference

pytestmark = pytest.mark.django_db


def test_the_preference_page_lists_choices_per_category_and_kind(admin_client):
    settings_update(user_id=1001, categories={"marketing": {"sms": False}})
    preference = UserPreference.objects.get(user_id=1001)
    html = admin_client.get(reverse("admin:preferences_app_userpreference_change", args=[preference.pk])).content.decode()
    assert "Choices per category or kind" in html
    assert 'selected>marketing</option>' in html
