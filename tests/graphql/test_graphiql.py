"""GraphiQL at /graphql/ works without internet: every script and style of its page is ours, served from our
static files, and is byte for byte the file the page's integrity hash names."""

import base64
import hashlib
import re

import pytest

pytestmark = pytest.mark.django_db

ASSET = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"[^>]*>""", re.S)


def page(client) -> str:
    response = client.get("/graphql/", headers={"Accept": "text/html"})
    assert response.status_code == 200
    return response.content.decode()


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_every_script_and_style_of_the_page_is_local_and_served(client):
    html = page(client)
    urls = [url for url in ASSET.findall(html) if not url.startswith("data:")]

    assert len(urls) == 7  # React, ReactDOM, js-cookie, GraphiQL's script and style, the explorer's two
    assert "unpkg.com" not in html and "://" not in " ".join(urls)
    for url in urls:
        assert url.startswith("/static/graphiql/"), url
        response = client.get(url)
        assert response.status_code == 200, url
        assert body(response)


def test_the_served_files_are_the_ones_the_integrity_hashes_name(client):
    tags = re.findall(r"""<(?:script|link)\b[^>]*>""", page(client), re.S)
    checked = 0
    for tag in tags:
        url = re.search(r'(?:src|href)="(/static/[^"]+)"', tag)
        integrity = re.search(r'integrity="sha384-([^"]+)"', tag)
        if url and integrity:
            digest = base64.b64encode(hashlib.sha384(body(client.get(url[1]))).digest()).decode()
            assert digest == integrity[1], url[1]
            checked += 1
    assert checked == 7
