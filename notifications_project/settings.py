"""Settings, all read from the environment, with an embedded default that needs nothing running.

Unset, the service runs on a SQLite file, the local-memory cache, in-process tasks and the
console providers. Every variable is listed in the README's table and in `.env.example`. A `.env`
file in the project folder (or the file `DOTENV_FILE` names) is read first; the real environment wins.
"""

import datetime
import json
import os
import re
from pathlib import Path

import csp.constants as csp
import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv
from kombu import Exchange, Queue

from kit.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

load_dotenv(os.environ.get("DOTENV_FILE") or BASE_DIR / ".env", override=False)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "phonenumber_field",
    "anymail",
    "axes",
    "notifications_project",
    "apikeys_app",
    "templates_app",
    "kinds_app",
    "preferences_app",
    "consent_app",
    "inbox_app",
    "logs_app",
    "webhooks_app",
]

MIDDLEWARE = [
    "kit.middleware.RequestContextMiddleware",  # first: its id is on every later line
    "kit.middleware.SlashlessPathMiddleware",  # before CORS and limits read the path
    "kit.timeouts.StatementTimeoutMiddleware",  # PostgreSQL's statement_timeout for API requests
    "kit.replica.ReplicaPinMiddleware",  # a client's reads after its own write stay on the primary
    "django.middleware.security.SecurityMiddleware",
    "kit.csp.CSPMiddleware",  # Content-Security-Policy on every answer (django-csp, API answers cached)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "kit.ratelimit.RateLimitMiddleware",
    # The APIs, health probes and /metrics go from here to the view: what follows serves the admin and pages.
    "kit.middleware.ApiShortcutMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout answer.
    "axes.middleware.AxesMiddleware",
    "kit.middleware.ApiShortcutTarget",  # where the APIs rejoin
]

ROOT_URLCONF = "notifications_project.urls"
WSGI_APPLICATION = "notifications_project.wsgi.application"
ASGI_APPLICATION = "notifications_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Data ---------------------------------------------------------------------------------------

DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var"))

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
SQLITE_OPTIONS = {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # SQLite serialises writers; waiting beats failing with "database is locked". In WAL mode a reader never
    # waits for a writer (with the default rollback journal, a write transaction that outgrows SQLite's page
    # cache locks every reader out until it commits). Sync stays FULL: an accepted send survives a power cut.
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable server fails in seconds (readiness answers 503) rather than at the OS's TCP timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
# A read replica (PostgreSQL streaming replication): the reads that may lag go there (kit/replica.py).
DATABASE_REPLICA_ALIAS = ""
if os.environ.get("DATABASE_REPLICA_URL"):
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs DATABASE_URL on PostgreSQL")
    DATABASE_REPLICA_ALIAS = "replica"
    DATABASES[DATABASE_REPLICA_ALIAS] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"], conn_max_age=DATABASES["default"]["CONN_MAX_AGE"], conn_health_checks=True)
    DATABASES[DATABASE_REPLICA_ALIAS].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
# After a client's write, its reads stay on the primary this long (longer than the replica's lag).
DATABASE_REPLICA_PIN_SECONDS = env_int("DATABASE_REPLICA_PIN_SECONDS", 10)
DATABASE_ROUTERS = ["kit.replica.ReplicaRouter"]
# Behind PgBouncer in transaction mode (DATABASE_POOLER=transaction) each transaction may run on another server
# connection, shared with other clients: nothing may live in the session from one transaction to the next.
DATABASE_POOLER = os.environ.get("DATABASE_POOLER", "")
if DATABASE_POOLER not in ("", "transaction"):
    raise ImproperlyConfigured(f"DATABASE_POOLER must be empty or 'transaction', not {DATABASE_POOLER!r}")
if DATABASE_POOLER:
    for _database in DATABASES.values():
        if _database["ENGINE"] != "django.db.backends.postgresql":
            raise ImproperlyConfigured("DATABASE_POOLER needs DATABASE_URL on PostgreSQL")
        # psycopg 3 prepares a statement run often on its server connection, which the next transaction may lack.
        _database["OPTIONS"]["prepare_threshold"] = None
        # .iterator() reads through a client-side cursor: a server-side one would outlive its transaction.
        _database["DISABLE_SERVER_SIDE_CURSORS"] = True
# On PostgreSQL, each statement of an API request (REST or GraphQL) is cancelled past this (0: no limit);
# the admin, commands and workers keep the server's default (kit/timeouts.py). It is a session setting, so
# behind a transaction pooler it is off and the database role's own statement_timeout applies instead.
DATABASE_STATEMENT_TIMEOUT_MS = env_int("DATABASE_STATEMENT_TIMEOUT_MS", 0 if DATABASE_POOLER else 10_000)
if DATABASE_POOLER and DATABASE_STATEMENT_TIMEOUT_MS:
    raise ImproperlyConfigured(
        "DATABASE_STATEMENT_TIMEOUT_MS is a session setting, which a transaction pooler hands to other clients: "
        "leave it unset (0) with DATABASE_POOLER and give the database role a statement_timeout instead")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "notif"),
            # A Redis that stops answering fails fast (readiness says so) instead of hanging requests.
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 2,
                        "SOCKET_TIMEOUT": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Tasks --------------------------------------------------------------------------------------

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
# With no broker, tasks run in the calling process: a fresh checkout sends end to end.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message per worker process at a time: an urgent task never waits in a worker's buffer behind bulk ones.
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_WORKER_PREFETCH_MULTIPLIER", 1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
# A worker keeps its database connection from task to task, as a web process does from request to request:
# DATABASE_CONN_MAX_AGE and the health check decide when it is replaced (notifications_project/celery.py).
# Celery's Django fixup would close it after every task (with this unset), and a new PostgreSQL backend per
# delivery task cost more database CPU than the task's own statements (issue #21).
CELERY_DB_REUSE_MAX = 1000

# Delivery lanes (logs_app/pipeline/lanes.py): urgent and bulk deliveries in queues of their own. A worker
# started without -Q (or WORKER_QUEUES) takes both, urgent first in turn; a bulk worker takes `-Q <bulk queue>`.
# Off: one queue (Celery's "celery"), first in, first out.
NOTIFICATION_LANES = env_bool("NOTIFICATION_LANES", True)
NOTIFICATION_URGENT_QUEUE = os.environ.get("NOTIFICATION_URGENT_QUEUE") or "notifications.urgent"
NOTIFICATION_BULK_QUEUE = os.environ.get("NOTIFICATION_BULK_QUEUE") or "notifications.bulk"
# A bulk send or trigger queues this many delivery tasks per turn; fan-outs running together take turns.
NOTIFICATION_BULK_TURN_BATCHES = env_int("NOTIFICATION_BULK_TURN_BATCHES", 10)
# On RabbitMQ, quorum queues (replicated, durable) bound to one topic exchange by their names: Celery then
# delays countdown tasks (retries) in RabbitMQ itself ("native delayed delivery") instead of holding them in a
# worker. Redis ignores the queue type and routes the exchange's messages by name as well. (The exchange has
# a name of its own: kombu keeps Redis bindings per exchange name, and older ones were direct.)
CELERY_TASK_DEFAULT_QUEUE = NOTIFICATION_URGENT_QUEUE if NOTIFICATION_LANES else "celery"
CELERY_TASK_DEFAULT_EXCHANGE = "notifications.lanes"
CELERY_TASK_DEFAULT_EXCHANGE_TYPE = "topic"
CELERY_TASK_DEFAULT_QUEUE_TYPE = "quorum"
# Outbound webhooks' tasks (delivery and sweep: HTTP calls of up to WEBHOOK_TIMEOUT_SECONDS each) have a queue
# of their own, which urgent workers do not consume: a slow receiver never holds up a login code.
WEBHOOK_QUEUE = os.environ.get("WEBHOOK_QUEUE") or "notifications.webhooks"
CELERY_TASK_ROUTES = {"webhooks_app.tasks.*": {"queue": WEBHOOK_QUEUE}} if NOTIFICATION_LANES else {}
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(CELERY_TASK_DEFAULT_EXCHANGE, type="topic"), routing_key=name,
          queue_arguments={"x-queue-type": "quorum"})
    for name in ((NOTIFICATION_URGENT_QUEUE, NOTIFICATION_BULK_QUEUE, WEBHOOK_QUEUE) if NOTIFICATION_LANES
                 else ("celery",))]
if CELERY_BROKER_URL.startswith(("amqp", "pyamqp")):
    # A publish returns once RabbitMQ has the message (publisher confirms); a connection that stops
    # answering is noticed within seconds (AMQP heartbeats), not when the operating system gives up on it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
    CELERY_BROKER_HEARTBEAT = env_int("CELERY_BROKER_HEARTBEAT", 10)

# The delivery log's partitions on PostgreSQL (logs_app/partitions.py): a month or a week each, made this many
# periods ahead; beat's daily run retires those wholly older than LOG_PARTITION_RETENTION_DAYS (0: beat retires
# none, and retention is the CronJob's `log_partitions --retention-days`).
LOG_PARTITION_PERIOD = os.environ.get("LOG_PARTITION_PERIOD", "month")
if LOG_PARTITION_PERIOD not in ("month", "week"):
    raise ImproperlyConfigured("LOG_PARTITION_PERIOD must be month or week")
LOG_PARTITIONS_AHEAD = env_int("LOG_PARTITIONS_AHEAD", 2)
LOG_PARTITION_RETENTION_DAYS = env_int("LOG_PARTITION_RETENTION_DAYS", 0)

# The sweep hands due and orphaned pending logs to the queue; beat runs it this often.
NOTIFICATION_SWEEP_INTERVAL_SECONDS = env_int("NOTIFICATION_SWEEP_INTERVAL_SECONDS", 10)
CELERY_BEAT_SCHEDULE = {
    "sweep-due-notifications": {
        "task": "logs_app.tasks.sweep_due",
        "schedule": float(NOTIFICATION_SWEEP_INTERVAL_SECONDS),
    },
    "sweep-due-webhooks": {
        "task": "webhooks_app.tasks.sweep_webhook_events",
        "schedule": float(NOTIFICATION_SWEEP_INTERVAL_SECONDS),
    },
    "log-partitions": {
        "task": "logs_app.tasks.log_partitions",
        "schedule": 86400.0,
    },
}

# Auth and security --------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (django-csp) on the admin, the dashboard, Swagger UI and every other answer: scripts
# only from our own origin (no inline script, no eval); inline styles allowed (the admin and the dashboard use
# style attributes); images also from https and data: (an email's HTML preview shows its remote images).
# GraphiQL, strawberry's page, starts with an inline script: its view allows inline scripts, and only it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF, csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:", "https:"],
        "font-src": [csp.SELF, "data:"],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    },
}
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"

# Admin logins: django-axes locks a username from one client IP after AXES_FAILURE_LIMIT failed
# attempts, for AXES_COOLOFF_MINUTES (per username and IP, so nobody can lock an operator out from afar).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Not verbose: no "AXES: BEGIN version" line at every start of every command, and lockout lines name only
# the lockout parameters (no user agent).
AXES_VERBOSE = False
# The client is found as for rate limits: X-Forwarded-For counts only from RATELIMIT_TRUSTED_PROXIES.
AXES_CLIENT_IP_CALLABLE = "kit.ratelimit.login_client_ip"

# API keys are looked up in the shared cache for this long; saving or revoking a key clears its entry.
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 300)
# Provider webhooks: a signature or event id seen within WEBHOOK_REPLAY_WINDOW_SECONDS is a replay,
# and a signed timestamp older than WEBHOOK_MAX_AGE_SECONDS is stale; both are refused with 403.
WEBHOOK_REPLAY_WINDOW_SECONDS = env_int("WEBHOOK_REPLAY_WINDOW_SECONDS", 24 * 3600)
WEBHOOK_MAX_AGE_SECONDS = env_int("WEBHOOK_MAX_AGE_SECONDS", 600)
# Outbound webhooks (webhooks_app): http endpoints only when allowed (DEBUG by default), and never private,
# loopback or link-local addresses unless allowed; a rotated secret keeps signing for the overlap.
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", DEBUG)
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", False)
WEBHOOK_SECRET_OVERLAP_SECONDS = env_int("WEBHOOK_SECRET_OVERLAP_SECONDS", 24 * 3600)
# A delivery waits this long for the receiver's answer; an endpoint failing this long with no success is disabled.
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5)
WEBHOOK_DISABLE_AFTER_HOURS = env_int("WEBHOOK_DISABLE_AFTER_HOURS", 24)
# purge_logs deletes webhook events delivered or given up (and their attempts) made longer ago than this (0: never).
WEBHOOK_RETENTION_DAYS = env_int("WEBHOOK_RETENTION_DAYS", 30)
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Internationalisation and static files ------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "kit.staticfiles.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Delivery -----------------------------------------------------------------------------------

# The console backend and providers write only who a message went to (masked) and its size unless this is on:
# a server left on them with DEBUG off must not print login codes and addresses to its output.
CONSOLE_PROVIDERS_SHOW_CONTENT = env_bool("CONSOLE_PROVIDERS_SHOW_CONTENT", DEBUG)
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "notification_channels.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "notifications@localhost")

# Providers per channel, in failover order: {"sms": [{"BACKEND": "notification_channels.sms.TwilioSMSProvider",
# "OPTIONS": {"account_sid": ..., "auth_token": ..., "from_number": ...}}], ...} as JSON.
NOTIFICATION_PROVIDERS = {
    "email": [{"BACKEND": "notification_channels.email.DjangoMailProvider", "OPTIONS": {}}],
    "sms": [{"BACKEND": "notification_channels.sms.ConsoleSMSProvider", "OPTIONS": {}}],
    "push": [{"BACKEND": "notification_channels.push.ConsolePushProvider", "OPTIONS": {}}],
    # In-app messages are written to the user's feed by the inbox's own provider.
    "in_app": [{"BACKEND": "inbox_app.provider.FeedProvider", "OPTIONS": {}}],
}
if os.environ.get("NOTIFICATION_PROVIDERS"):
    try:
        NOTIFICATION_PROVIDERS.update(json.loads(os.environ["NOTIFICATION_PROVIDERS"]))
    except (json.JSONDecodeError, TypeError, ValueError) as err:
        raise ImproperlyConfigured(f"NOTIFICATION_PROVIDERS is not a JSON object of channel lists: {err}") from None

# django-anymail (ESP backends and their tracking webhooks): ANYMAIL_<NAME> -> ANYMAIL["<NAME>"],
# e.g. ANYMAIL_MAILGUN_API_KEY, ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY, ANYMAIL_WEBHOOK_SECRET.
ANYMAIL = {name.removeprefix("ANYMAIL_"): value for name, value in os.environ.items() if name.startswith("ANYMAIL_")}
NOTIFICATION_SMS_MAX_SEGMENTS = env_int("NOTIFICATION_SMS_MAX_SEGMENTS", 10)
# The answer to a text of HELP on the Twilio inbound webhook.
NOTIFICATION_SMS_HELP_TEXT = os.environ.get(
    "NOTIFICATION_SMS_HELP_TEXT", "Reply STOP to stop these messages, START to receive them again.")

# Retries: transient provider errors are retried with exponential backoff and jitter.
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 5)
# Soft bounces (an ESP's `deferred` events) of an address in a row, with no delivery between, that suppress it.
NOTIFICATION_SOFT_BOUNCE_LIMIT = env_int("NOTIFICATION_SOFT_BOUNCE_LIMIT", 3)
# Consent links: the service's public address (links in emails and on the preference page), how long a
# one-click unsubscribe or preference link is honoured, an optional mailto: unsubscribe address beside the
# URL, and the categories whose emails carry no unsubscribe header (critical kinds never do).
NOTIFICATION_PUBLIC_BASE_URL = os.environ.get("NOTIFICATION_PUBLIC_BASE_URL", "http://localhost:8000")
NOTIFICATION_UNSUBSCRIBE_TOKEN_MAX_AGE_DAYS = env_int("NOTIFICATION_UNSUBSCRIBE_TOKEN_MAX_AGE_DAYS", 90)
if NOTIFICATION_UNSUBSCRIBE_TOKEN_MAX_AGE_DAYS < 31:
    raise ImproperlyConfigured("NOTIFICATION_UNSUBSCRIBE_TOKEN_MAX_AGE_DAYS must be 31 or more: mailbox providers "
                               "expect an unsubscribe link to work for at least a month")
NOTIFICATION_UNSUBSCRIBE_MAILTO = os.environ.get("NOTIFICATION_UNSUBSCRIBE_MAILTO", "")
NOTIFICATION_UNSUBSCRIBE_EXEMPT_CATEGORIES = env_list("NOTIFICATION_UNSUBSCRIBE_EXEMPT_CATEGORIES", "transactional")
# The hosted preference page's branding: a name, a logo (an absolute https URL, or none) and an accent colour.
NOTIFICATION_BRAND_NAME = os.environ.get("NOTIFICATION_BRAND_NAME", "Notifications")
NOTIFICATION_BRAND_LOGO_URL = os.environ.get("NOTIFICATION_BRAND_LOGO_URL", "")
NOTIFICATION_BRAND_COLOR = os.environ.get("NOTIFICATION_BRAND_COLOR", "#1d4ed8")
if not re.fullmatch(r"#[0-9a-fA-F]{6}", NOTIFICATION_BRAND_COLOR):
    raise ImproperlyConfigured(f"NOTIFICATION_BRAND_COLOR must be a colour as #rrggbb, not {NOTIFICATION_BRAND_COLOR!r}")
NOTIFICATION_RETRY_BASE_SECONDS = env_int("NOTIFICATION_RETRY_BASE_SECONDS", 2)
NOTIFICATION_RETRY_MAX_SECONDS = env_int("NOTIFICATION_RETRY_MAX_SECONDS", 600)
# A worker owns a log it claimed for this long; a log queued this long ago and still pending
# (its queue message or its worker was lost) is queued again by the sweep.
NOTIFICATION_LEASE_SECONDS = env_int("NOTIFICATION_LEASE_SECONDS", 120)
# A send starts only while its log's lease has this long left (a provider's worst case: its
# connect, write and read timeouts of 10 s each, plus the `sent` write's retries); past that, the
# rest of the batch is released for another task, so a slow batch never outlives its lease.
NOTIFICATION_LEASE_MARGIN_SECONDS = env_int("NOTIFICATION_LEASE_MARGIN_SECONDS", 35)
NOTIFICATION_REQUEUE_AFTER_SECONDS = env_int("NOTIFICATION_REQUEUE_AFTER_SECONDS", 300)
# How many logs one delivery task carries, and the most recipients one bulk send may name.
NOTIFICATION_TASK_BATCH_SIZE = env_int("NOTIFICATION_TASK_BATCH_SIZE", 200)
# A web process publishes single sends from a background thread at most once per this many
# milliseconds, each task carrying every send accepted meanwhile (logs_app/pipeline/publisher.py).
NOTIFICATION_PUBLISH_LINGER_MS = env_int("NOTIFICATION_PUBLISH_LINGER_MS", 100)
NOTIFICATION_BULK_MAX_USERS = env_int("NOTIFICATION_BULK_MAX_USERS", 100_000)
# Pacing of providers with a RATE (notification_channels/pacing.py): a send waits at most this long for its
# slot (else it is retried later, not counted as a try; keep the lease margin above the providers' timeouts
# plus this), and a 429 or Retry-After halves a provider's pace for this long.
NOTIFICATION_PACE_MAX_WAIT_SECONDS = env_int("NOTIFICATION_PACE_MAX_WAIT_SECONDS", 3)
NOTIFICATION_PACE_SLOW_SECONDS = env_int("NOTIFICATION_PACE_SLOW_SECONDS", 60)

# Largest context a send may carry, in bytes of JSON, and largest template body.
NOTIFICATION_MAX_CONTEXT_BYTES = env_int("NOTIFICATION_MAX_CONTEXT_BYTES", 64 * 1024)
NOTIFICATION_MAX_TEMPLATE_BYTES = env_int("NOTIFICATION_MAX_TEMPLATE_BYTES", 64 * 1024)
# Per channel (of the template): largest template part, send context and rendered part, in bytes;
# NOTIFICATION_RENDER_LIMITS (JSON) overrides some, e.g. {"sms": {"rendered_bytes": 4096}}. A render
# also stops after NOTIFICATION_RENDER_TIMEOUT_MS.
NOTIFICATION_RENDER_LIMITS = {
    "email": {"template_bytes": NOTIFICATION_MAX_TEMPLATE_BYTES, "context_bytes": NOTIFICATION_MAX_CONTEXT_BYTES,
              "rendered_bytes": 512 * 1024},
    "sms": {"template_bytes": 8 * 1024, "context_bytes": 32 * 1024, "rendered_bytes": 8 * 1024},
    "push": {"template_bytes": 8 * 1024, "context_bytes": 32 * 1024, "rendered_bytes": 4 * 1024},
}
try:
    for _channel, _limits in json.loads(os.environ.get("NOTIFICATION_RENDER_LIMITS") or "{}").items():
        NOTIFICATION_RENDER_LIMITS[_channel] = {**NOTIFICATION_RENDER_LIMITS.get(_channel, {}), **_limits}
except (json.JSONDecodeError, TypeError, ValueError, AttributeError) as err:
    raise ImproperlyConfigured(f"NOTIFICATION_RENDER_LIMITS is not a JSON object of channel limits: {err}") from None
NOTIFICATION_RENDER_TIMEOUT_MS = env_int("NOTIFICATION_RENDER_TIMEOUT_MS", 250)

# GraphQL ------------------------------------------------------------------------------------

# Limits on one GraphQL document: nesting depth, aliases and tokens. Introspection (the schema
# GraphiQL shows) can be turned off.
GRAPHQL_MAX_DEPTH = env_int("GRAPHQL_MAX_DEPTH", 10)
GRAPHQL_MAX_ALIASES = env_int("GRAPHQL_MAX_ALIASES", 15)
GRAPHQL_MAX_TOKENS = env_int("GRAPHQL_MAX_TOKENS", 2000)
GRAPHQL_INTROSPECTION = env_bool("GRAPHQL_INTROSPECTION", True)
# An operation running longer is stopped with a TIMEOUT error (0: no limit); on PostgreSQL its statements
# also run under this statement_timeout when it is shorter than DATABASE_STATEMENT_TIMEOUT_MS.
GRAPHQL_TIMEOUT_MS = env_int("GRAPHQL_TIMEOUT_MS", 5000)

# REST API -----------------------------------------------------------------------------------

REST_FRAMEWORK = {
    # API endpoints subclass kit.views.ApiView (bounded JSON, one error shape) and take these defaults:
    # an API key and its scopes. (The classes import no DRF view, since DRF's views read these settings.)
    "DEFAULT_AUTHENTICATION_CLASSES": ["apikeys_app.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apikeys_app.authentication.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "kit.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "kit.openapi.ApiAutoSchema",
    "UNAUTHENTICATED_USER": None,
}
# Largest JSON body the API reads; larger ones are answered 413 unread.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024)
# The bulk send's cap follows NOTIFICATION_BULK_MAX_USERS: the general cap plus 12 bytes per user
# (a ten-digit id, a comma and a space), so a list as long as allowed always fits.
API_BULK_MAX_BODY_BYTES = API_MAX_BODY_BYTES + 12 * NOTIFICATION_BULK_MAX_USERS
# Django's own cap on reading a body stays above ours, so the API's 413 is what a client gets.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, API_BULK_MAX_BODY_BYTES)

SPECTACULAR_SETTINGS = {
    "TITLE": "Notification service API",
    "DESCRIPTION": (
        "Send email, SMS and push notifications from stored templates, manage templates and user "
        "preferences, and read the delivery log. Every call needs `Authorization: Api-Key <key>`. "
        "Errors are `{\"detail\", \"status_code\"}` (400s add `errors` per field); lists are "
        "`{\"items\", \"total\", \"page\", \"size\", \"pages\"}`. Rate limits per client IP, per "
        "minute and per hour, are reported in `X-RateLimit-*` headers on every answer. Behind gunicorn, "
        "a request line over 4094 bytes is refused by gunicorn itself: `414` with an HTML page."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "kit.openapi.schema_postprocessing_hook",
    ],
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    # Swagger UI's assets are served by us (drf-spectacular-sidecar), not fetched from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"NotificationTypeEnum": "templates_app.models.NotificationType"},
    # Path ids (notifications_project/api_urls.py): a user id is the seed's INTEGER (preferences_app.models.
    # USER_ID_MAX), the others are bigint keys; outside these bounds the server answers 400 or 404.
    "PATH_CONVERTER_OVERRIDES": {
        "user_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        "id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    },
}

CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/(api/|graphql)"
CORS_ALLOW_HEADERS = ("accept", "authorization", "content-type", "idempotency-key")
CORS_EXPOSE_HEADERS = (
    "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Window",
    "X-RateLimit-Limit-Minute", "X-RateLimit-Remaining-Minute", "X-RateLimit-Limit-Hour",
    "X-RateLimit-Remaining-Hour", "Retry-After",
)

# Rate limits per client IP, counted by django-ratelimit in the shared cache (Redis when REDIS_URL is set).
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
RATELIMIT_USE_CACHE = "default"
RATELIMIT_RATES = {
    "send": {"minute": env_int("RATELIMIT_SEND_PER_MINUTE", 60), "hour": env_int("RATELIMIT_SEND_PER_HOUR", 1000)},
    "read": {"minute": env_int("RATELIMIT_READ_PER_MINUTE", 300), "hour": env_int("RATELIMIT_READ_PER_HOUR", 10000)},
    "manage": {"minute": env_int("RATELIMIT_MANAGE_PER_MINUTE", 120),
               "hour": env_int("RATELIMIT_MANAGE_PER_HOUR", 2000)},
}
# (path prefix, methods or () for any, group): the first match decides a request's group.
RATELIMIT_PATH_GROUPS = [
    ("/api/v1/notifications/", ("POST",), "send"),
    ("/api/v1/triggers/", ("POST", "DELETE"), "send"),
    ("/api/", ("GET", "HEAD", "OPTIONS"), "read"),
    ("/api/", (), "manage"),
    ("/graphql", ("GET", "HEAD", "OPTIONS"), "read"),
    ("/graphql", (), "manage"),
]
# Proxies (CIDRs) whose X-Forwarded-For is believed; otherwise the client is REMOTE_ADDR.
RATELIMIT_TRUSTED_PROXIES = env_list("RATELIMIT_TRUSTED_PROXIES")

# Logging ------------------------------------------------------------------------------------

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
# JSON lines for log collectors in production, readable lines while developing.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)

# In-app inbox ---------------------------------------------------------------------------------

# How long a feed token minted by POST /api/v1/users/{id}/feed-token lets a browser read that user's feed.
INBOX_FEED_TOKEN_TTL_SECONDS = env_int("INBOX_FEED_TOKEN_TTL_SECONDS", 3600)
# A secret shared with the calling service, which then signs user ids itself (HMAC-SHA256 of the id, hex)
# instead of minting tokens; empty turns that way off.
INBOX_USER_HASH_SECRET = os.environ.get("INBOX_USER_HASH_SECRET", "")
# Read or archived in-app messages older than this many days are purged with the logs (0: kept forever).
INBOX_RETENTION_DAYS = env_int("INBOX_RETENTION_DAYS", 90)
# Live updates: the events kept per user for a reconnecting client (Last-Event-ID), and for how long.
INBOX_LIVE_BACKLOG = env_int("INBOX_LIVE_BACKLOG", 100)
INBOX_LIVE_BACKLOG_SECONDS = env_int("INBOX_LIVE_BACKLOG_SECONDS", 3600)

# Metrics ------------------------------------------------------------------------------------

# /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; with no token it is open only with DEBUG.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Where gunicorn's and Celery's processes share their counters (prometheus_client reads it too).
PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
# A Celery worker serves its own metrics on this port (0: not at all).
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 0)
