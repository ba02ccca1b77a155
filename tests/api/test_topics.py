import pytest

pytestmark = pytest.mark.django_db


def test_subscribe_list_unsubscribe_delete(api):
    response = api.post("/api/v1/topics/project-42-watchers/subscribers/", {"user_ids": [1001, 1002]}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["added"] == 2 and response.json()["topic"]["subscribers"] == 2
    listed = api.get("/api/v1/topics/project-42-watchers/subscribers/").json()
    assert [item["user_id"] for item in listed["items"]] == [1001, 1002]
    assert api.get("/api/v1/topics/").json()["items"][0]["key"] == "project-42-watchers"
    response = api.post("/api/v1/topics/project-42-watchers/unsubscribe/", {"user_ids": [1001]}, format="json")
    assert response.json() == {"removed": 1}
    assert api.get("/api/v1/topics/project-42-watchers/").json()["subscribers"] == 1
    assert api.delete("/api/v1/topics/project-42-watchers/").status_code == 204
    assert api.get("/api/v1/topics/project-42-watchers/").status_code == 404


def test_create_and_bad_input(api):
    assert api.post("/api/v1/topics/", {"key": "watchers", "name": "Watchers"}, format="json").status_code == 201
    response = api.post("/api/v1/topics/", {"key": "watchers"}, format="json")
    assert response.status_code == 400 and "key" in response.json()["errors"]
    response = api.post("/api/v1/topics/Bad Key/subscribers/", {"user_ids": [1]}, format="json")
    assert response.status_code == 400 and "key" in response.json()["errors"]
    response = api.post("/api/v1/topics/watchers/subscribers/", {"user_ids": [0]}, format="json")
    assert response.status_code == 400


def test_topics_need_manage_to_change(make_client):
    reader = make_client("read")
    assert reader.get("/api/v1/topics/").status_code == 200
    assert reader.post("/api/v1/topics/w/subscribers/", {"user_ids": [1]}, format="json").status_code == 403
