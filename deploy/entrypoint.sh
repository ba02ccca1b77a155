#!/bin/sh
# Runs one role of the service: web (gunicorn), worker, beat or migrate; anything else is exec'd as given.
set -e
case "$1" in
  web)
    exec gunicorn notifications_project.wsgi --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-2}" --access-logfile - --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" ;;
  worker)
    exec celery -A notifications_project worker --loglevel "${LOG_LEVEL:-INFO}" --concurrency "${WORKER_CONCURRENCY:-2}" ;;
  beat)
    exec celery -A notifications_project beat --loglevel "${LOG_LEVEL:-INFO}" --schedule /tmp/celerybeat-schedule ;;
  migrate)
    exec python manage.py migrate --noinput ;;
  *)
    exec "$@" ;;
esac
