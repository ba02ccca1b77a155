"""The WSGI module loads the whole application and freezes it out of the garbage collector's way."""

import subprocess
import sys

from tests.workers import ROOT


def test_loading_the_wsgi_application_freezes_the_loaded_objects():
    script = ("import gc, notifications_project.wsgi as wsgi, sys\n"
              "print(gc.get_freeze_count(), 'notifications_project.schema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "DEBUG": "true"})
    assert out.returncode == 0, out.stderr
    frozen, schema_loaded = out.stdout.split()
    assert int(frozen) > 50_000 and schema_loaded == "True"


def test_a_web_process_does_not_load_what_only_delivery_needs():
    """Providers' HTTP client (httpx and the async libraries it finds), PyJWT and Markdown load where messages
    are delivered: a web worker is about 13 MiB smaller without them. The AWS SDK (boto3, botocore), which
    anymail's Amazon SES webhook imports, loads with the first request under /webhooks/anymail/: 16 MiB more."""
    script = ("import sys, notifications_project.wsgi\n"
              "print(sorted(m for m in ('httpx', 'httpcore', 'h2', 'trio', 'jwt', 'markdown_it', 'boto3', "
              "'botocore') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "DEBUG": "true"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
