"""The seed's two example operations, verbatim, return the shapes it shows."""

import io

from django.core.management import call_command

from logs_app.models import NotificationLog
from tests import factories

QUERY_EXAMPLE = """
query GetUserNotifications($userId: Int!, $page: Int = 1) {
  userNotifications(userId: $userId, pagination: {page: $page, size: 10}) {
    items {
      id
      type
      status
      sentAt
      createdAt
      template {
        name
        subject
      }
    }
    pagination {
      total
      page
      pages
    }
  }
}
"""

MUTATION_EXAMPLE = """
mutation SendNotification($input: NotificationRequestInput!) {
  sendNotification(input: $input) {
    id
    status
    message
    createdAt
  }
}
"""


def test_query_example_pages_a_users_notifications(gql, template):
    factories.NotificationLogFactory.create_batch(12, user_id=1001, template=template)
    factories.NotificationLogFactory(user_id=2002)

    answer = gql(QUERY_EXAMPLE, {"userId": 1001})

    assert "errors" not in answer
    result = answer["data"]["userNotifications"]
    assert result["pagination"] == {"total": 12, "page": 1, "pages": 2}
    assert len(result["items"]) == 10
    item = result["items"][0]
    assert set(item) == {"id", "type", "status", "sentAt", "createdAt", "template"}
    assert item["type"] == "EMAIL" and item["status"] == "PENDING" and item["sentAt"] is None
    assert item["template"] == {"name": template.name, "subject": template.subject}

    second = gql(QUERY_EXAMPLE, {"userId": 1001, "page": 2})["data"]["userNotifications"]
    assert len(second["items"]) == 2 and second["pagination"]["page"] == 2


def test_mutation_example_accepts_a_notification(gql, template, preference):
    variables = {"input": {"userId": 1001, "templateName": template.name,
                           "context": '{"first_name": "Ada", "code": "4321"}'}}

    answer = gql(MUTATION_EXAMPLE, variables)

    assert "errors" not in answer
    result = answer["data"]["sendNotification"]
    assert set(result) == {"id", "status", "message", "createdAt"}
    assert result["status"] == "PENDING"
    assert result["message"] == "Notification accepted for delivery"
    log = NotificationLog.objects.get(pk=result["id"])
    assert (log.user_id, log.template, log.body) == (1001, template, "Hi Ada, your code is 4321.")


def test_both_examples_run_verbatim_on_the_demo_data(gql, settings, tmp_path):
    """After the README's first command (migrate, seed_demo): the seed's SendWelcomeEmail, then its query."""
    settings.DATA_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    variables = {"input": {"userId": 12345, "templateName": "welcome_email",
                           "context": '{"name": "John Doe", "product": "Bambu"}'}}

    sent = gql(MUTATION_EXAMPLE, variables)

    assert "errors" not in sent, sent
    assert sent["data"]["sendNotification"]["message"] == "Notification accepted for delivery"
    log = NotificationLog.objects.get(pk=sent["data"]["sendNotification"]["id"])
    assert (log.recipient, log.subject) == ("seed.user@example.com", "Welcome to Bambu, John Doe!")

    listed = gql(QUERY_EXAMPLE, {"userId": 12345})

    assert "errors" not in listed, listed
    items = listed["data"]["userNotifications"]["items"]
    assert [(item["id"], item["template"]["name"]) for item in items] == [(log.pk, "welcome_email")]
