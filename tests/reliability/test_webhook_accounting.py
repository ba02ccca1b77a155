"""No webhook event is lost: sends through the live REST API while a worker is SIGKILLed between the
changes of status it writes and the deliveries of their events. Every log's `accepted` and `sent` reach
the receiver (verified with `standardwebhooks`), each exactly once by webhook-id after de-duplication."""

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from django.db import connection

from apikeys_app.models import APIKey
from tests.fakes.webhook_receiver import FakeWebhookReceiver
from tests.reliability.harness import CountingTwilio, closing_connections, send_all, settle, wait_for
from tests.reliability.test_accounting import PHONE, SETTLE_SECONDS, sms_providers
from webhooks_app.dispatch import events_sweep_due
from webhooks_app.models import EventStatus, WebhookEvent
from webhooks_app.services import endpoint_create

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WEBHOOK_SETTINGS = {"WEBHOOK_ALLOW_HTTP": "true", "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true"}


class WebhookSweeper(threading.Thread):
    """Runs events_sweep_due every second in this process, as beat would schedule it."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.wait(1.0):
                try:
                    events_sweep_due()
                except Exception:  # a dropped database connection: beat would simply run it again
                    connection.close()
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


def test_a_worker_killed_between_the_change_and_the_webhook(stage, capsys, settings):
    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    count = 400
    client = APIKey.objects.get(name="accounting").prefix
    sweeper = WebhookSweeper()
    with CountingTwilio() as twilio, FakeWebhookReceiver(secret="whsec_AAAA") as receiver, closing_connections():
        endpoint = endpoint_create(client=client, url=receiver.endpoint_url)
        receiver.secret = endpoint.secret
        providers = sms_providers(twilio)
        first = stage.start_worker(providers, **WEBHOOK_SETTINGS)
        sweeper.start()
        killed_at: list[float] = []

        def sent_heard() -> int:
            return sum(1 for _, payload in list(receiver.verified) if payload["type"] == "notification.sent")

        def kill_when_busy() -> None:
            # Once a quarter of the `sent` events are heard: the worker is writing sends and delivering events.
            if wait_for(lambda: sent_heard() >= count // 4, 120, 0.05):
                first.kill()
                killed_at.append(time.monotonic())
                stage.start_worker(providers, **WEBHOOK_SETTINGS)

        send_at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=15)
        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        try:
            outcomes = send_all(base_url=stage.base_url, api_key=stage.api_key, run="hooks", count=count,
                                recipient=lambda index: PHONE, extra={"send_at": send_at.isoformat(),
                                                                      "priority": "urgent"})
            killer.join(timeout=180)
            assert killed_at, "the worker was never killed: the run proved nothing"
            ids = [outcome.log_id for outcome in outcomes.values() if outcome.log_id]
            assert len(ids) == count and settle(ids, SETTLE_SECONDS), "the pipeline did not settle"
            assert wait_for(lambda: WebhookEvent.objects.filter(status=EventStatus.DELIVERED).count() == 2 * count,
                            SETTLE_SECONDS), "the webhook events were not all delivered"
        finally:
            sweeper.stop()
        heard = Counter((payload["data"]["id"], payload["type"]) for payload in receiver.events().values())
        assert set(heard) == {(log_id, kind) for log_id in ids
                              for kind in ("notification.accepted", "notification.sent")}
        assert set(heard.values()) == {1} and receiver.rejected == []
    again = len(receiver.verified) - len(receiver.events())
    retried = WebhookEvent.objects.filter(attempts__gte=2).count()
    with capsys.disabled():
        print(f"\nwebhooks: logs={count} events={2 * count} heard_once_each=yes deliveries={len(receiver.verified)} "
              f"repeated_by_id={again} attempted_again={retried}")
