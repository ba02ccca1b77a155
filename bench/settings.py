"""The service's own settings plus the benchmark's baseline view; used only by `python -m bench`."""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-used-anywhere-real")

from notifications_project.settings import *  # noqa: E402,F403

ROOT_URLCONF = "bench.urls"
# Nothing is collected for the benchmark; the APIs serve no static files.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405

import warnings  # noqa: E402

# Static files are not collected for the benchmark (the APIs serve none); WhiteNoise need not say so.
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise")
