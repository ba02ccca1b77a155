"""What one accepted send costs the web worker, measured in one process, without a server or a load generator.

`python -m bench.accept_cpu [--sends N] [--bytecodes | --profile]` seeds its own database and Redis databases
(the benchmark's users, template and key), warms the caches with 200 sends, then makes N more
`POST /api/v1/notifications/` calls through the WSGI application, as gunicorn would, and prints:

- by default, the CPU time of each send (its minimum, 10th, 25th percentile and median: a loaded machine
  lengthens some sends, the low percentiles much less than the mean);
- with --bytecodes, the Python bytecodes executed per send (sys.settrace), the same count on every run
  whatever the machine does, and the files and functions that execute most of them. Work done in C
  (psycopg's and hiredis's parsers, json) is not counted: compare changes of Python code with it, and
  confirm the others in CPU time;
- with --profile, cProfile's top functions by cumulative CPU time;
- with --stages, the bytecodes per send by stage of the send (STAGES below: each bytecode counts for the
  innermost stage running), to see which of the send's jobs its cost is made of.

With --floor it measures Django's floor instead (bench/floor/: no middleware, one view that parses the JSON and
inserts one row), the baseline of `make bench`'s accept rate, through the same WSGI call.

Its database is `notif_accept_cpu` and its Redis databases 13 and 14 on 127.0.0.1 (BENCH_DATABASE_URL,
BENCH_REDIS_URL, BENCH_BROKER_URL to change them), apart from `make bench`'s, so it can run beside one.
"""

import argparse
import collections
import io
import json
import os
import sys
import time
from typing import Any

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/notif_accept_cpu")
os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")

from .harness import (
    ACCEPT_USERS,
    BIG,
    BROKER_URL,
    CONTEXT,
    DATABASE_URL,
    REDIS_URL,
    ROOT,
    prepare_database,
    seed,
)

WARM_UP = 200


def _environ(key: str, user_id: int, path: str = "/api/v1/notifications/") -> dict[str, Any]:
    body = json.dumps({"user_id": user_id, "template_name": "bench_sms", "context": CONTEXT}).encode()
    return {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8000", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": f"Api-Key {key}", "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": False,
            "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0)}


def _sender(key: str, path: str = "/api/v1/notifications/"):
    if os.environ["DJANGO_SETTINGS_MODULE"] == "bench.floor.settings":
        from bench.floor.wsgi import application
    else:
        from notifications_project.wsgi import application

    def send(number: int) -> None:
        statuses: list[str] = []
        answer = application(_environ(key, number % ACCEPT_USERS + 1, path), lambda status, headers, exc_info=None:
                             statuses.append(status))
        b"".join(answer)
        answer.close()
        if not statuses[0].startswith("202"):
            raise SystemExit(f"send {number} answered {statuses[0]}")
    return send


def _where(code: Any) -> str:
    return code.co_filename.split("site-packages/")[-1].removeprefix(f"{ROOT}/")


def count_bytecodes(send, sends: int) -> None:
    per_code: collections.Counter = collections.Counter()

    def trace(frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            per_code[frame.f_code] += 1
        return trace

    sys.settrace(trace)
    for number in range(sends):
        send(number)
    sys.settrace(None)
    print(f"Python bytecodes per send: {sum(per_code.values()) / sends:,.0f}")
    per_file: collections.Counter = collections.Counter()
    for code, count in per_code.items():
        per_file[_where(code)] += count
    print("\nby file:")
    for name, count in per_file.most_common(25):
        print(f"{count / sends:8,.0f}  {name}")
    print("\nby function:")
    for code, count in per_code.most_common(25):
        print(f"{count / sends:8,.0f}  {_where(code)}:{code.co_firstlineno} {code.co_name}")


# Where a send's bytecodes go: (file, function) -> stage. A bytecode counts for the innermost of these running, and
# for OUTSIDE when none is (Django's handler, the middleware, URL resolving, the answer's headers).
STAGES = {
    ("kit/ratelimit.py", "rate_limit_hit"): "rate limit, with the API key's read-ahead (one Redis script)",
    ("rest_framework/views.py", "dispatch"): "DRF: the request, the API key's authentication, the answer",
    ("kit/views.py", "body"): "the request's body: JSON and the serializer",
    ("logs_app/api.py", "post"): "the view's own code and the answer's body",
    ("logs_app/pipeline/accept.py", "notification_send"): "the send's own code (accept.py)",
    ("logs_app/pipeline/request.py", "send_request_check"): "the template (shared cache) and its render (Jinja)",
    ("preferences_app/services.py", "preference_get_or_default"): "the user's preferences (shared cache)",
    ("consent_app/selectors.py", "suppression_reason"): "the suppression list (a SELECT)",
    ("logs_app/pipeline/accept.py", "_insert_log"): "the log's INSERT",
    ("django/db/transaction.py", "__enter__"): "the transaction: BEGIN, COMMIT, on-commit hooks",
    ("django/db/transaction.py", "__exit__"): "the transaction: BEGIN, COMMIT, on-commit hooks",
    ("logs_app/pipeline/events.py", "logs_changed_send"): "logs_changed: the rollup's upsert, webhooks' check",
    ("logs_app/pipeline/queue.py", "log_enqueue_soon"): "the queue: Celery's publish at the commit",
    ("logs_app/pipeline/accept.py", "_log_accepted"): "the 'notification accepted' log line",
}
OUTSIDE = "Django: handler, middleware, URL resolving, the answer's headers"


def count_stages(send, sends: int) -> None:
    per_stage: collections.Counter = collections.Counter()
    stage_of: dict[Any, str | None] = {}
    running: list[tuple[Any, str]] = []  # (frame, stage), innermost last

    def trace(frame: Any, event: str, arg: Any) -> Any:
        if event == "opcode":
            per_stage[running[-1][1] if running else OUTSIDE] += 1
        elif event == "call":
            frame.f_trace_opcodes = True
            code = frame.f_code
            if code not in stage_of:
                stage_of[code] = STAGES.get((_where(code), code.co_name))
            if stage_of[code]:
                running.append((frame, stage_of[code]))
        elif event == "return" and running and running[-1][0] is frame:
            running.pop()
        return trace

    sys.settrace(trace)
    for number in range(sends):
        send(number)
    sys.settrace(None)
    total = sum(per_stage.values())
    print(f"Python bytecodes per send: {total / sends:,.0f}, by stage:")
    for stage, count in per_stage.most_common():
        print(f"{count / sends:8,.0f}  {100 * count / total:5.1f}%  {stage}")


def time_cpu(send, sends: int) -> None:
    spent = []
    for number in range(sends):
        started = time.process_time()
        send(number)
        spent.append(time.process_time() - started)
    spent.sort()
    low, p10, p25, median = (1000 * spent[int(sends * share)] for share in (0, 0.1, 0.25, 0.5))
    print(f"CPU ms per send over {sends}: min {low:.2f}, p10 {p10:.2f}, p25 {p25:.2f}, median {median:.2f}")


def profile(send, sends: int) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(lambda: [send(number) for number in range(sends)])
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=500, help="sends measured after the warm-up (500)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--bytecodes", action="store_true", help="count Python bytecodes per send")
    mode.add_argument("--profile", action="store_true", help="cProfile, by cumulative CPU time")
    mode.add_argument("--stages", action="store_true", help="count Python bytecodes per send by stage")
    parser.add_argument("--floor", action="store_true", help="measure Django's floor (bench/floor/) instead")
    options = parser.parse_args()
    env = {"DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
           "CELERY_BROKER_URL": BROKER_URL, "CACHE_KEY_PREFIX": "notif-accept-cpu", "DEBUG": "false",
           "ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING",
           **{f"RATELIMIT_{group}_PER_{period}": BIG for group in ("SEND", "READ", "MANAGE")
              for period in ("MINUTE", "HOUR")}}
    os.environ.update(env)
    prepare_database({**os.environ, "PYTHONPATH": str(ROOT)})
    import django

    if options.floor:
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.floor.settings"
        django.setup()
        send = _sender("", "/floor/send/")
    else:
        django.setup()
        from preferences_app.services import preference_get_or_create

        key = seed()
        for user_id in range(1, ACCEPT_USERS + 1):  # in the shared cache, as on a running service
            preference_get_or_create(user_id=user_id)
        send = _sender(key)
    for number in range(WARM_UP):
        send(number)
    measure = (count_bytecodes if options.bytecodes else profile if options.profile
               else count_stages if options.stages else time_cpu)
    measure(send, options.sends)


if __name__ == "__main__":
    main()
