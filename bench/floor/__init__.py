"""Django's floor for the accept rate: a minimal project (no apps, no middleware) whose one view parses the
send's JSON and inserts one row into a copy of `notification_logs` (same columns, indexes and checks) with
`INSERT ... RETURNING`. `python -m bench` serves it with the same gunicorn as the service and compares."""
