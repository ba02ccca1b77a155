"""Nothing accepted is lost: a thousand sends or more through the live REST API while a fault happens.

Each run compares the answers the client got, the logs in the database and the messages at the
fake providers (see harness.account), and prints one summary line. Faults, one per run: a worker
SIGKILLed mid-batch, the broker gone for a while, PostgreSQL connections dropped, providers that
time out, fail, throttle or refuse connections.
"""

import datetime as dt
import threading
import time

import psycopg
import pytest
from django.db import connection

from logs_app.models import NotificationLog, ProviderCall
from tests.fakes.base import Answer
from tests.reliability.conftest import LEASE_SECONDS, REQUEUE_AFTER_SECONDS
from tests.reliability.harness import (
    Attempt, CountingTwilio, account, closing_connections, free_port, send_all, settle, wait_for,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PHONE = "+4915112345678"
SETTLE_SECONDS = 180  # a cap, not a wait: a loaded machine (CI beside other jobs) settles slower


def sms_providers(*fakes: CountingTwilio, refused_port: int | None = None, timeout: float = 5.0) -> dict:
    configs = [{"BACKEND": "notification_channels.sms.TwilioSMSProvider",
                "OPTIONS": fake.provider_options(timeout=timeout)} for fake in fakes]
    if refused_port is not None:  # nothing listens there: every connection is refused
        refused = fakes[0].provider_options(timeout=timeout, base_url=f"http://127.0.0.1:{refused_port}")
        configs.insert(1, {"BACKEND": "notification_channels.sms.TwilioSMSProvider", "OPTIONS": refused})
    return {"sms": configs}


def report(capsys, accounts) -> None:
    with capsys.disabled():
        print("\n" + accounts.line())


def test_a_worker_killed_mid_batch(stage, capsys):
    count = 1200
    with CountingTwilio() as twilio, closing_connections():
        providers = sms_providers(twilio)
        first = stage.start_worker(providers)
        killed_at: list[float] = []

        def kill_on_the_quarter(accepted: int) -> None:
            # Mid-batch for certain: once a quarter has gone out, the worker dies waiting for this very answer
            # (killed from a poll of the fake's count, it sometimes died between two batches, and the run
            # proved nothing: it failed CI so on RabbitMQ).
            if accepted == count // 4:
                first.kill()
                killed_at.append(time.monotonic())

        def start_another_after_the_kill() -> None:
            if wait_for(lambda: bool(killed_at), 120, 0.05):
                stage.start_worker(providers)

        twilio.on_accept = kill_on_the_quarter

        # Scheduled a little ahead, so that the sweep hands them to the workers in batches (of
        # NOTIFICATION_TASK_BATCH_SIZE) and the kill lands in the middle of some.
        send_at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=15)
        killer = threading.Thread(target=start_another_after_the_kill)
        killer.start()
        outcomes = send_all(base_url=stage.base_url, api_key=stage.api_key, run="kill", count=count,
                            recipient=lambda index: PHONE, extra={"send_at": send_at.isoformat(), "priority": "urgent"})
        killer.join(timeout=180)
        assert killed_at, "the worker was never killed: the run proved nothing"
        ids = [outcome.log_id for outcome in outcomes.values() if outcome.log_id]
        assert settle(ids, SETTLE_SECONDS), "the pipeline did not settle"

        def killed_between_answer_and_commit(log: NotificationLog, deliveries: list[Attempt]) -> bool:
            # The first acceptance came before the kill, and the log was delivered again afterwards.
            first_accept = min(attempt.at for attempt in deliveries)
            return first_accept <= killed_at[0] and log.attempts >= 2

        accounts = account(run="kill", outcomes=outcomes, fakes=[twilio], may_duplicate=killed_between_answer_and_commit)
    reclaimed = NotificationLog.objects.filter(pk__in=ids, attempts__gte=2).count()
    accounts.extra = f" reclaimed_after_kill={reclaimed}"
    report(capsys, accounts)
    assert reclaimed > 0, "the kill left nothing for the sweep to recover: the run proved nothing"
    assert accounts.states["sent"] == count


def test_the_broker_down_for_a_while(stage, capsys):
    count = 1000
    window: dict[str, float] = {}
    restarts: list[str] = []
    with CountingTwilio() as twilio, closing_connections():
        providers = sms_providers(twilio)
        stage.start_worker(providers)
        settled = threading.Event()

        def supervise() -> None:
            # As the worker Deployment's restart policy would: a worker process that exited (kombu's
            # Redis transport can die with an unrecoverable error when the broker vanishes) is
            # replaced. Counted and printed, so a run shows whether it happened.
            while not settled.wait(0.5):
                if "up" not in window:
                    continue  # a replacement could not reach the broker yet
                for worker in list(stage.workers):
                    if worker.process is not None and worker.process.poll() is not None and worker.name not in restarts:
                        restarts.append(worker.name)
                        stage.start_worker(providers)

        def outage(sent: int) -> None:
            if sent == count // 3 and "down" not in window:
                stage.broker.stop()
                window["down"] = time.time()
                threading.Timer(6.0, restart).start()

        def restart() -> None:
            stage.broker.start()  # the same port, empty: whatever was queued is gone
            window["up"] = time.time()

        supervisor = threading.Thread(target=supervise, daemon=True)
        supervisor.start()
        try:
            outcomes = send_all(base_url=stage.base_url, api_key=stage.api_key, run="broker", count=count,
                                recipient=lambda index: PHONE, on_progress=outage)
            assert wait_for(lambda: "up" in window, 30)
            ids = [outcome.log_id for outcome in outcomes.values() if outcome.log_id]
            assert settle(ids, SETTLE_SECONDS), "the pipeline did not settle"
        finally:
            settled.set()
            supervisor.join(timeout=5)
        accounts = account(run="broker", outcomes=outcomes, fakes=[twilio])
    during = NotificationLog.objects.filter(
        pk__in=ids, created_at__gte=_aware(window["down"]), created_at__lte=_aware(window["up"])).count()
    accounts.extra = f" accepted_while_broker_down={during} worker_restarts={len(restarts)}"
    report(capsys, accounts)
    assert during > 0, "nothing was sent while the broker was down: the run proved nothing"
    assert all(outcome.codes == [202] for outcome in outcomes.values()), "a send was refused while the broker was down"
    assert accounts.states["sent"] == count


def _aware(epoch: float):
    import datetime as dt
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc)


def test_postgresql_connections_dropped(stage, capsys):
    count = 1000
    window: dict[str, float] = {}
    db = connection.settings_dict
    with CountingTwilio() as twilio, closing_connections():
        stage.start_worker(sms_providers(twilio))

        def drop_connections() -> None:
            """For 4 s, terminate every connection to the test database, five times a second."""
            with psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                                 password=db["PASSWORD"] or None, dbname="postgres", autocommit=True) as admin:
                window["start"] = time.monotonic()
                while time.monotonic() < window["start"] + 4:
                    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = %s AND pid <> pg_backend_pid()", [db["NAME"]])
                    time.sleep(0.2)
                window["end"] = time.monotonic()

        dropper = threading.Thread(target=drop_connections)

        def start_dropping(sent: int) -> None:
            if sent == count // 3:
                dropper.start()

        outcomes = send_all(base_url=stage.base_url, api_key=stage.api_key, run="pg", count=count,
                            recipient=lambda index: PHONE, on_progress=start_dropping)
        dropper.join(timeout=30)
        connection.close()  # this thread's connection was dropped too
        ids = [outcome.log_id for outcome in outcomes.values() if outcome.log_id]
        assert settle(ids, SETTLE_SECONDS), "the pipeline did not settle"

        def dropped_between_answer_and_commit(log: NotificationLog, deliveries: list[Attempt]) -> bool:
            # The worker's connection died between the provider's answer and the commit: as a kill.
            first_accept = min(attempt.at for attempt in deliveries)
            return window["start"] - 1 <= first_accept <= window["end"] + 1 and log.attempts >= 2

        accounts = account(run="pg", outcomes=outcomes, fakes=[twilio], may_duplicate=dropped_between_answer_and_commit)
    unavailable = [body for outcome in outcomes.values() for body in outcome.bodies]
    codes = {code for outcome in outcomes.values() for code in outcome.codes}
    accounts.extra = f" answered_503={len(unavailable)}"
    report(capsys, accounts)
    assert codes <= {200, 202, 503}, f"answers other than 202/503 (and 200 for a retried key): {codes}"
    assert unavailable, "no request met a dropped connection: the run proved nothing"
    assert all(body == {"detail": "The database is unavailable; try again shortly.", "status_code": 503}
               for body in unavailable)
    # It recovered by itself: what was sent after the fault was accepted the first time.
    assert all(outcome.codes == [202] for index, outcome in outcomes.items() if index >= count - 100)
    assert accounts.states["sent"] == count


def test_providers_that_time_out_fail_throttle_or_refuse(stage, capsys):
    count = 1000
    invalid = "+15005550001"
    with CountingTwilio() as first, CountingTwilio() as last, closing_connections():
        first.invalid_numbers.add(invalid)
        last.invalid_numbers.add(invalid)
        throttled = Answer(status=429, json={"code": 20429, "message": "Too Many Requests", "status": 429},
                           headers={"Retry-After": "2"})
        failing = Answer(status=503, json={"code": 20503, "message": "Service unavailable", "status": 503})
        slow = Answer(status=503, json={"code": 20503, "message": "late", "status": 503}, delay=0.8)
        # The first provider: a spell of 5xx, throttling and timeouts; the second refuses every
        # connection; the last throttles at first. Failover, backoff and Retry-After do the rest.
        first.enqueue(*[slow if n % 40 == 3 else throttled if n % 4 == 1 else failing for n in range(320)])
        last.enqueue(*([throttled] * 120))
        # No log may be taken over by another worker while its first is still in a round: a takeover
        # starts at the first provider whatever Retry-After said, which is the lease's promise (at least
        # once), not a retry, and would blur what this run checks. The margin is what a round may take on a
        # loaded machine (CI ran beside other jobs: with a 1 s margin a round outlived its lease twice), so
        # a send only starts with 10 s of its lease left.
        stage.start_worker(sms_providers(first, last, refused_port=free_port(), timeout=0.5), concurrency=4,
                           NOTIFICATION_LEASE_SECONDS="30", NOTIFICATION_LEASE_MARGIN_SECONDS="10")

        outcomes = send_all(base_url=stage.base_url, api_key=stage.api_key, run="providers", count=count,
                            recipient=lambda index: invalid if index % 40 == 0 else PHONE)
        ids = [outcome.log_id for outcome in outcomes.values() if outcome.log_id]
        assert settle(ids, SETTLE_SECONDS), "the pipeline did not settle"

        def timed_out_on_a_send_it_took(log: NotificationLog, deliveries: list[Attempt]) -> bool:
            # A timeout is ambiguous: on a loaded machine a provider may take the message and answer after
            # the worker stopped waiting, and the retry that follows sends it again (at least once, as with
            # any provider without idempotency keys). Each acceptance beyond the one the log holds must
            # be matched by a call the service itself recorded as timed out.
            extra = sum(1 for attempt in deliveries if attempt.sid != log.provider_message_id)
            return extra <= ProviderCall.objects.filter(log_id=log.pk, outcome="timeout").count()

        accounts = account(run="providers", outcomes=outcomes, fakes=[first, last],
                           may_duplicate=timed_out_on_a_send_it_took)

    attempts = sorted(first.attempts + last.attempts, key=lambda attempt: attempt.at)
    by_index: dict[int, list[Attempt]] = {}
    for attempt in attempts:
        by_index.setdefault(attempt.index, []).append(attempt)
    early = []
    for index, seen in by_index.items():
        starts = [attempt.at for attempt in seen if attempt in first.attempts]  # a round starts at the first provider
        for attempt in seen:
            if attempt.status == 429:
                later = [start for start in starts if start > attempt.at]
                if later and later[0] < attempt.at + 2 - 0.05:
                    early.append((index, round(later[0] - attempt.at, 2)))
    retried = sum(1 for seen in by_index.values() if len({a.at for a in seen if a in first.attempts}) > 1)
    logs = NotificationLog.objects.filter(pk__in=ids)
    invalid_failed = logs.filter(recipient=invalid, status="failed", error_message__contains="invalid").count()
    # Twilio's first 21211 puts the number on the suppression list; sends accepted after that are suppressed.
    invalid_suppressed = logs.filter(recipient=invalid, status="suppressed",
                                     error_message__contains="suppression list").count()
    accounts.extra = (f" retried={retried} throttled={sum(a.status == 429 for a in attempts)} "
                      f"invalid_failed={invalid_failed} invalid_suppressed={invalid_suppressed}")
    report(capsys, accounts)
    assert not early, f"Retry-After not honoured (index, seconds): {early[:10]}"
    assert retried > 0 and invalid_failed >= 1 and invalid_failed + invalid_suppressed == len(range(0, count, 40))
    assert accounts.states["sent"] + accounts.states["failed"] + accounts.states["suppressed"] == count
    failed_errors = set(logs.filter(status="failed").values_list("error_message", flat=True))
    assert all(error for error in failed_errors)
