import pytest

from tests.graphql.conftest import error_codes

pytestmark = pytest.mark.django_db

UPDATE = ("mutation($settings: [NotificationSettingInput!]!) { updateNotificationSettings(userId: 1001, "
          "settings: $settings) { category kind channel enabled } }")


def test_set_and_read_choices(gql):
    from tests import factories
    factories.NotificationKindFactory(key="order_shipped")
    answer = gql(UPDATE, {"settings": [{"category": "marketing", "channel": "EMAIL", "enabled": False},
                                       {"kind": "order_shipped", "channel": "SMS", "enabled": False}]})
    assert answer["data"]["updateNotificationSettings"] == [
        {"category": "marketing", "kind": None, "channel": "EMAIL", "enabled": False},
        {"category": None, "kind": "order_shipped", "channel": "SMS", "enabled": False}]
    answer = gql("{ userPreferences(userId: 1001) { emailEnabled notificationSettings { category channel } } }")
    assert answer["data"]["userPreferences"] == {
        "emailEnabled": True, "notificationSettings": [{"category": "marketing", "channel": "EMAIL"},
                                                       {"category": None, "channel": "SMS"}]}
    answer = gql(UPDATE, {"settings": [{"category": "marketing", "channel": "EMAIL", "enabled": None}]})
    assert answer["data"]["updateNotificationSettings"] == [
        {"category": None, "kind": "order_shipped", "channel": "SMS", "enabled": False}]


def test_a_choice_names_a_category_or_a_kind(gql):
    answer = gql(UPDATE, {"settings": [{"channel": "EMAIL", "enabled": False}]})
    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert answer["errors"][0]["extensions"]["fieldErrors"] == {"settings.0": ["Name either a category or a kind."]}
    answer = gql(UPDATE, {"settings": [{"category": "nope", "channel": "EMAIL", "enabled": False}]})
    assert answer["errors"][0]["extensions"]["fieldErrors"] == {"categories.nope": ["No category with the key 'nope'."]}
