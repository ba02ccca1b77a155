"""The send pipeline, one module per stage.

request (checking a send) -> accept (one log) / bulk (many, by COPY) / trigger (a kind: per recipient,
one log per allowed channel, by COPY) -> queue (tasks by name, the publisher thread) -> claim (leases) -> deliver (providers, retries, the `sent` write) -> receipts.
`sweep` queues again what is due or was lost; `events` is the hook other apps listen on. The
pipeline never imports `logs_app.tasks`: it publishes tasks by name, and the tasks call it.
"""
