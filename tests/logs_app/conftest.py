import threading

import pytest
from django.db import connection

from preferences_app.services import preference_update
from templates_app.services import template_create


@pytest.fixture
def code_sms_users(db, fake_twilio, sms_via):
    """SMS through the Twilio fake, a `code_sms` template, user 1 with a number and user 2 who turned SMS off."""
    sms_via(fake_twilio)
    template_create(name="code_sms", type="sms", body="Your code is {{ code }}.")
    preference_update(user_id=1, phone_number="+4915112345601")
    preference_update(user_id=2, phone_number="+4915112345602", sms_enabled=False)


def twice_at_once(action) -> list:
    """What `action()` returned in two threads let go together, each with its own database connection."""
    barrier = threading.Barrier(2)
    results = []

    def run():
        barrier.wait()
        try:
            results.append(action())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results
