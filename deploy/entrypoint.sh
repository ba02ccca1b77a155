#!/bin/sh
# Runs one role of the service: web (gunicorn), stream (uvicorn, for the inbox's live updates), worker, beat or
# migrate; anything else is exec'd as given.
set -e

# prometheus_client keeps one file per process there: web, stream and worker start from an empty directory
# (files of processes that are gone would be summed forever), and every role needs it to exist.
if [ -n "$PROMETHEUS_MULTIPROC_DIR" ]; then
  case "$1" in web|stream|worker) rm -rf "$PROMETHEUS_MULTIPROC_DIR" ;; esac
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi

# A bad setting (a provider missing an option, say) stops the pod here, not a delivery at 3 a.m.
case "$1" in web|stream|worker) python manage.py check --fail-level ERROR ;; esac

case "$1" in
  web)
    exec gunicorn notifications_project.wsgi --config /app/deploy/gunicorn.conf.py --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-2}" --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" ;;
  stream)
    # The inbox's Server-Sent Events (/api/v1/feed/stream/) under ASGI: an open stream is a coroutine, not a worker.
    # One process per pod (about 1,000 open streams measured in one); scale with replicas. Open streams are cut
    # 10 s into a shutdown, and their browsers reconnect to another pod with Last-Event-ID. Requests are logged
    # by the service itself, as under gunicorn.
    exec uvicorn notifications_project.asgi:application --host 0.0.0.0 --port "${PORT:-8000}" --lifespan off \
      --no-access-log --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" \
      --timeout-graceful-shutdown 10 ;;
  worker)
    # WORKER_QUEUES picks the queues: "notifications.urgent,notifications.bulk" for an urgent worker (which helps
    # the bulk lane when idle), "notifications.bulk" for a bulk-only one, "notifications.webhooks" for outbound
    # webhooks; unset, all three (one worker doing everything, as on a single machine).
    exec celery -A notifications_project worker --loglevel "${LOG_LEVEL:-INFO}" --concurrency "${WORKER_CONCURRENCY:-2}" \
      ${WORKER_QUEUES:+--queues "$WORKER_QUEUES"} ;;
  beat)
    exec celery -A notifications_project beat --loglevel "${LOG_LEVEL:-INFO}" --schedule /tmp/celerybeat-schedule ;;
  migrate)
    exec python manage.py migrate --noinput ;;
  *)
    exec "$@" ;;
esac
