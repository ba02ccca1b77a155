"""Gunicorn settings for the web role: metrics shared across worker processes, no second access log."""

from prometheus_client import multiprocess

# Requests are logged by the service itself (JSON, with the request id); gunicorn's access log would repeat them.
accesslog = None
# gunicorn's default, stated: a longer request line gets gunicorn's own 414 (HTML), documented in the README
# and the OpenAPI description; the API's paths and queries stay far below it.
limit_request_line = 4094
# The heartbeat file lives in memory: a container's /tmp may be a slow or read-only disk.
worker_tmp_dir = "/dev/shm"


def child_exit(server, worker) -> None:
    """Let prometheus_client drop a dead worker's live gauges (its counters stay summed)."""
    multiprocess.mark_process_dead(worker.pid)
