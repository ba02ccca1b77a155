"""The rule that decides whether a kind reaches a channel, and the choices it reads."""

import pytest
from django.core.exceptions import ValidationError

from kinds_app.models import Category
from preferences_app.categories import channel_decision, choices_for_users, settings_get, settings_update
from preferences_app.services import preference_get_or_default
from tests import factories

pytestmark = pytest.mark.django_db


def decide(user_id: int, kind, channel: str):
    choices = choices_for_users(user_ids=[user_id], kind=kind).get(user_id, {})
    return channel_decision(preference=preference_get_or_default(user_id=user_id), kind=kind, channel=channel,
                            choices=choices)


@pytest.fixture
def kind():
    return factories.NotificationKindFactory(key="spring_sale", category=Category.objects.get(key="marketing"))


def test_with_no_choice_every_channel_is_on(kind):
    assert decide(7, kind, "sms").allowed


def test_a_category_turned_off_names_itself(kind):
    settings_update(user_id=7, categories={"marketing": {"sms": False}})
    decision = decide(7, kind, "sms")
    assert not decision.allowed and decision.rule == "The user turned off sms for the category 'marketing'."
    assert decide(7, kind, "email").allowed


def test_the_kind_wins_over_its_category(kind):
    settings_update(user_id=7, categories={"marketing": {"sms": False}}, kinds={"spring_sale": {"sms": True}})
    assert decide(7, kind, "sms").allowed
    settings_update(user_id=7, categories={"marketing": {"email": True}}, kinds={"spring_sale": {"email": False}})
    assert decide(7, kind, "email").rule == "The user turned off email for the kind 'spring_sale'."


def test_the_category_wins_over_the_channel_switch(kind):
    factories.UserPreferenceFactory(user_id=7, sms_enabled=False)
    assert decide(7, kind, "sms").rule == "The user turned off sms notifications."
    settings_update(user_id=7, categories={"marketing": {"sms": True}})
    assert decide(7, kind, "sms").allowed


def test_a_category_off_by_default_needs_the_user_to_turn_it_on(kind):
    Category.objects.filter(key="marketing").update(enabled_by_default=False)
    kind.refresh_from_db()
    assert decide(7, kind, "push").rule == "The category 'marketing' is off unless the user turns it on."
    settings_update(user_id=7, categories={"marketing": {"push": True}})
    assert decide(7, kind, "push").allowed


def test_a_critical_kind_ignores_every_opt_out(kind):
    kind.critical = True
    kind.save()
    factories.UserPreferenceFactory(user_id=7, sms_enabled=False)
    settings_update(user_id=7, categories={"marketing": {"sms": False}}, kinds={"spring_sale": {"sms": False}})
    assert decide(7, kind, "sms").allowed


def test_null_forgets_a_choice_and_replace_forgets_the_rest(kind):
    settings_update(user_id=7, categories={"marketing": {"sms": False, "email": False}})
    assert settings_update(user_id=7, categories={"marketing": {"sms": None}}) == {
        "categories": {"marketing": {"email": False}}, "kinds": {}}
    assert settings_update(user_id=7, kinds={"spring_sale": {"push": False}}, replace=True) == {
        "categories": {}, "kinds": {"spring_sale": {"push": False}}}


def test_unknown_keys_channels_and_values_are_named():
    with pytest.raises(ValidationError) as caught:
        settings_update(user_id=7, categories={"nope": {"sms": False}, "marketing": {"fax": True, "sms": 0}},
                        kinds={"gone": {}})
    assert caught.value.message_dict == {
        "categories.nope": ["No category with the key 'nope'."],
        "categories.marketing.fax": ["Not a channel; one of: email, sms, push, in_app."],
        "categories.marketing.sms": ["Must be true, false or null."],
        "kinds.gone": ["No kind with the key 'gone'."],
    }
    assert settings_get(user_id=7) == {"categories": {}, "kinds": {}}


def test_choices_are_read_for_many_users_at_once(kind):
    settings_update(user_id=1, categories={"marketing": {"sms": False}})
    settings_update(user_id=2, kinds={"spring_sale": {"email": True}})
    settings_update(user_id=3, categories={"product": {"sms": False}})
    assert choices_for_users(user_ids=[1, 2, 3, 4], kind=kind) == {
        1: {("category", "sms"): False}, 2: {("kind", "email"): True}}
