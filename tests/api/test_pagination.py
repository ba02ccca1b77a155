import pytest

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def twelve_templates(db):
    return [factories.NotificationTemplateFactory(name=f"t{n:02}") for n in range(12)]


@pytest.mark.parametrize("query, page, size, names, pages", [
    ("", 1, 50, [f"t{n:02}" for n in range(12)], 1),
    ("?size=5", 1, 5, ["t00", "t01", "t02", "t03", "t04"], 3),
    ("?size=5&page=3", 3, 5, ["t10", "t11"], 3),
    ("?size=5&page=4", 4, 5, [], 3),
    ("?size=12", 1, 12, [f"t{n:02}" for n in range(12)], 1),
    ("?size=100", 1, 100, [f"t{n:02}" for n in range(12)], 1),
])
def test_the_envelope_counts_pages(api, twelve_templates, query, page, size, names, pages):
    body = api.get(f"/api/v1/templates/{query}").json()
    assert list(body) == ["items", "total", "page", "size", "pages"]
    assert [item["name"] for item in body["items"]] == names
    assert (body["total"], body["page"], body["size"], body["pages"]) == (12, page, size, pages)


def test_an_empty_list_has_zero_pages(api):
    assert api.get("/api/v1/notifications/").json() == {"items": [], "total": 0, "page": 1, "size": 50, "pages": 0}


@pytest.mark.parametrize("query, field", [("size=101", "size"), ("size=0", "size"), ("page=0", "page"),
                                          ("page=-1", "page"), ("size=abc", "size"),
                                          ("page=99999999999999999999", "page")])
def test_bad_page_parameters_are_400(api, query, field):
    response = api.get(f"/api/v1/templates/?{query}")
    assert response.status_code == 400 and field in response.json()["errors"]
