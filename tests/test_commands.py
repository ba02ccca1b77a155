"""manage.py seed_demo and create_api_key, as an operator runs them."""

import io

import pytest
from django.core.management import CommandError, call_command

from apikeys_app.models import APIKey
from preferences_app.models import Device, UserPreference
from templates_app.models import NotificationTemplate

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_seed_demo_loads_templates_for_every_channel_and_is_repeatable(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    first = run("seed_demo")
    assert "Templates: 6 added" in first and "password" in first
    assert set(NotificationTemplate.objects.values_list("type", flat=True)) == {"email", "sms", "push"}
    demo = UserPreference.objects.get(user_id=1001)
    assert (demo.email, str(demo.phone_number), demo.timezone) == ("ada@example.com", "+4915112345678",
                                                                   "Europe/Berlin")
    assert Device.objects.filter(preference=demo, active=True).count() == 2
    second = run("seed_demo")
    assert "0 added, 6 already there" in second
    assert NotificationTemplate.objects.count() == 6


def test_seed_demo_lists_its_templates_and_users_and_ends_with_the_password_also_kept_in_a_file(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    lines = run("seed_demo").strip().splitlines()

    assert "  welcome_email (email): variables name, product" in lines
    assert "  12345: seed.user@example.com" in lines and "  1001: ada@example.com, +4915112345678, 2 push devices" in lines
    password = (tmp_path / "ADMIN_PASSWORD").read_text().strip()
    assert lines[-1] == f"Admin login: user 'admin', password {password} (also in {tmp_path / 'ADMIN_PASSWORD'})"
    assert (tmp_path / "ADMIN_PASSWORD").stat().st_mode & 0o777 == 0o600
    again = run("seed_demo").strip().splitlines()[-1]
    assert str(tmp_path / "ADMIN_PASSWORD") in again and password not in again


def test_create_api_key_prints_the_key_last_and_stores_only_a_hash():
    output = run("create_api_key", "billing", "--scopes", "send")
    key = output.strip().splitlines()[-1]
    stored = APIKey.objects.get(name="billing")
    assert key.startswith(stored.prefix + ".")
    assert key not in (stored.hashed_key, stored.id)
    assert APIKey.objects.is_valid(key)
    assert stored.scopes == ["send"]


def test_create_api_key_refuses_unknown_scopes():
    with pytest.raises(CommandError, match="scopes"):
        run("create_api_key", "billing", "--scopes", "send,delete-everything")
    assert not APIKey.objects.exists()


def test_seed_demo_adds_kinds_over_its_templates_and_a_topic(settings, tmp_path):
    from kinds_app.models import NotificationKind, Topic

    settings.DATA_DIR = tmp_path
    lines = run("seed_demo").splitlines()
    assert "  order_shipped (transactional): sms, push" in lines
    assert "  password_reset (security, critical): email" in lines
    kind = NotificationKind.objects.get(key="order_shipped")
    assert {link.channel: link.template.name for link in kind.channel_templates.all()} == {
        "sms": "order_shipped_sms", "push": "order_update_push"}
    assert Topic.objects.get(key="order-a-1042-watchers").subscriptions.count() == 2
    run("seed_demo")
    assert NotificationKind.objects.count() == 3
