"""How far past its deadline a render can run: every template of the slow catalogue, timed.

    .venv/bin/python -m bench.render_bound [ROUNDS]

Renders each template of tests/security/slow_templates.py ROUNDS times (default 5) under the configured
NOTIFICATION_RENDER_TIMEOUT_MS, prints the slowest render of each and how far it ran past the limit, and
exits 1 if any ran more than 100 ms past it. Run it on a quiet machine: a busy one adds its own delays.
"""

import os
import sys
import time

import django


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # no database is touched
    django.setup()
    from django.conf import settings
    from django.core.exceptions import ValidationError

    from templates_app.rendering import placeholders, render_parts
    from tests.security.slow_templates import SLOW_TEMPLATES

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    limit_ms = settings.NOTIFICATION_RENDER_TIMEOUT_MS
    worst_past = 0.0
    print(f"render limit {limit_ms} ms, {rounds} rounds; slowest render of each template")
    for name, body in SLOW_TEMPLATES.items():
        placeholders({"body": body})  # compiled once, as when the template is saved
        slowest, outcome = 0.0, ""
        for _ in range(rounds):
            started = time.monotonic()
            try:
                render_parts({"body": body}, {})
                outcome = "rendered"
            except ValidationError as err:
                outcome = err.messages[0]
            slowest = max(slowest, (time.monotonic() - started) * 1000)
        past = max(0.0, slowest - limit_ms)
        worst_past = max(worst_past, past)
        print(f"{slowest:8.1f} ms  {past:6.1f} past  {name}: {outcome[:70]}")
    print(f"worst: {worst_past:.1f} ms past the limit")
    return 1 if worst_past > 100 else 0


if __name__ == "__main__":
    sys.exit(main())
