"""A client generated from the live OpenAPI schema (openapi-python-client), as a calling service builds one."""

import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from preferences_app.models import UserPreference
from templates_app.models import NotificationTemplate
from tests import factories

PACKAGE = "notification_api_client"


@pytest.fixture
def generated(live_server, transactional_db, tmp_path) -> ModuleType:
    """The client package openapi-python-client writes for the schema the running server serves."""
    schema = tmp_path / "schema.json"
    schema.write_bytes(httpx.get(f"{live_server.url}/api/schema/?format=json").raise_for_status().content)
    config = tmp_path / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run over the generated code
    generator = Path(sys.executable).with_name("openapi-python-client")
    subprocess.run([str(generator), "generate", "--path", str(schema), "--meta", "none", "--config", str(config),
                    "--output-path", str(tmp_path / PACKAGE)], check=True, capture_output=True)
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.import_module(f"{PACKAGE}.models")
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
def client(generated, live_server):
    _, secret = factories.api_key(name="generated-client")
    return generated.AuthenticatedClient(base_url=live_server.url, token=secret, prefix="Api-Key")


def _call(generated: ModuleType, operation: str, **kwargs):
    module = importlib.import_module(f"{PACKAGE}.api.{operation}")
    response = module.sync_detailed(**kwargs)
    assert response.status_code == 200, response.content
    return response.parsed


def test_a_one_field_preference_patch_changes_that_field_only(generated, client):
    factories.UserPreferenceFactory(user_id=4711, email="ada@example.com", phone_number="+4915112345678",
                                    timezone="Europe/Berlin", push_enabled=False)
    body = generated.models.PatchedPreferenceInputRequest(sms_enabled=False)

    _call(generated, "preferences.preferences_partial_update", client=client, user_id=4711, body=body)

    stored = UserPreference.objects.get(user_id=4711)
    assert (stored.sms_enabled, stored.email, str(stored.phone_number), stored.timezone, stored.push_enabled,
            stored.email_enabled) == (False, "ada@example.com", "+4915112345678", "Europe/Berlin", False, True)


def test_a_one_field_template_patch_changes_that_field_only(generated, client):
    template = factories.NotificationTemplateFactory(subject="Old", html_body="<p>Hi {{ first_name }}</p>")
    body = generated.models.PatchedTemplateInputRequest(subject="New {{ code }}")

    _call(generated, "templates.templates_partial_update", client=client, template_id=template.pk, body=body)

    stored = NotificationTemplate.objects.get(pk=template.pk)
    assert (stored.subject, stored.html_body, stored.body, stored.type) == (
        "New {{ code }}", "<p>Hi {{ first_name }}</p>", template.body, template.type)
