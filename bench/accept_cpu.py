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
- with --profile, cProfile's top functions by cumulative CPU time.

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


def _environ(key: str, user_id: int) -> dict[str, Any]:
    body = json.dumps({"user_id": user_id, "template_name": "bench_sms", "context": CONTEXT}).encode()
    return {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/notifications/", "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8000", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": f"Api-Key {key}", "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": False,
            "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0)}


def _sender(key: str):
    from notifications_project.wsgi import application

    def send(number: int) -> None:
        statuses: list[str] = []
        answer = application(_environ(key, number % ACCEPT_USERS + 1), lambda status, headers, exc_info=None:
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
    options = parser.parse_args()
    env = {"DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
           "CELERY_BROKER_URL": BROKER_URL, "CACHE_KEY_PREFIX": "notif-accept-cpu", "DEBUG": "false",
           "ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING",
           **{f"RATELIMIT_{group}_PER_{period}": BIG for group in ("SEND", "READ", "MANAGE")
              for period in ("MINUTE", "HOUR")}}
    os.environ.update(env)
    prepare_database({**os.environ, "PYTHONPATH": str(ROOT)})
    import django

    django.setup()
    from preferences_app.services import preference_get_or_create

    key = seed()
    for user_id in range(1, ACCEPT_USERS + 1):  # in the shared cache, as on a running service
        preference_get_or_create(user_id=user_id)
    send = _sender(key)
    for number in range(WARM_UP):
        send(number)
    (count_bytecodes if options.bytecodes else profile if options.profile else time_cpu)(send, options.sends)


if __name__ == "__main__":
    main()
