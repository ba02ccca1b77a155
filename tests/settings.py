"""The service's own settings, as the environment gives them, plus what only tests need."""

import os

# Tests run with DEBUG off, like production, so they need a key; nothing real is signed with it.
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-used-anywhere-real")
os.environ.setdefault("CACHE_KEY_PREFIX", "notif-tests")

from notifications_project.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STATIC_ROOT = None  # nothing is collected for tests; WhiteNoise serves from the finders
WHITENOISE_USE_FINDERS = True
# Inside a test's transaction every request would send its SET statement_timeout again (a rollback could undo
# it), which the query counts would see; tests/ops/test_timeouts.py turns the timeout on.
DATABASE_STATEMENT_TIMEOUT_MS = 0

# The broker the real-worker integration tests use (CI sets it; unset, those tests are skipped).
CELERY_TEST_BROKER_URL = os.environ.get("CELERY_TEST_BROKER_URL", "")

# A second alias on the same PostgreSQL database (Django's TEST MIRROR: no second test database), so the tests
# of kit/replica.py can see which alias served each read. Nothing is routed to it unless a test sets
# DATABASE_REPLICA_ALIAS = "replica", as DATABASE_REPLICA_URL does in production.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and "replica" not in DATABASES:  # noqa: F405
    DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
