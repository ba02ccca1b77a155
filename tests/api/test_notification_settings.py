import pytest

from tests import factories

pytestmark = pytest.mark.django_db


def test_patch_sets_and_get_reads_the_choices(api):
    factories.NotificationKindFactory(key="order_shipped")
    response = api.patch("/api/v1/preferences/1001/settings/",
                         {"categories": {"marketing": {"email": False}}, "kinds": {"order_shipped": {"sms": False}}},
                         format="json")
    assert response.status_code == 200, response.json()
    expected = {"categories": {"marketing": {"email": False}}, "kinds": {"order_shipped": {"sms": False}}}
    assert response.json() == expected
    assert api.get("/api/v1/preferences/1001/settings/").json() == expected
    response = api.patch("/api/v1/preferences/1001/settings/", {"categories": {"marketing": {"email": None}}},
                         format="json")
    assert response.json() == {"categories": {}, "kinds": {"order_shipped": {"sms": False}}}


def test_put_replaces_every_choice(api):
    api.patch("/api/v1/preferences/1001/settings/", {"categories": {"marketing": {"email": False}}}, format="json")
    response = api.put("/api/v1/preferences/1001/settings/", {"categories": {"security": {"sms": True}}}, format="json")
    assert response.json() == {"categories": {"security": {"sms": True}}, "kinds": {}}


@pytest.mark.parametrize(("body", "field"), [
    ({"categories": {"nope": {"sms": False}}}, "categories.nope"),
    ({"categories": {"marketing": {"fax": False}}}, "categories.marketing.fax"),
    ({"categories": {"marketing": {"sms": 0}}}, "categories.marketing.sms"),
    ({"kinds": []}, "kinds"),
    ({"topics": {}}, "topics"),
])
def test_bad_choices_are_a_400_naming_the_field(api, body, field):
    response = api.patch("/api/v1/preferences/1001/settings/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]


def test_the_seed_preference_endpoint_is_unchanged(api):
    api.patch("/api/v1/preferences/1001/settings/", {"categories": {"marketing": {"email": False}}}, format="json")
    body = api.get("/api/v1/preferences/1001/").json()
    assert "categories" not in body and body["email_enabled"] is True


def test_choices_need_the_manage_scope_to_change(make_client):
    reader = make_client("read")
    assert reader.get("/api/v1/preferences/1001/settings/").status_code == 200
    assert reader.patch("/api/v1/preferences/1001/settings/", {}, format="json").status_code == 403
