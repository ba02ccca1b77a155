"""The shared web kit: what every door (REST, GraphQL, admin, commands) uses and no app owns.

It imports no app; the apps import it, and an app that must feed it something (the API key's cache
entry for the rate limiter, a metrics collector) hands it a hook from its AppConfig.ready.
"""
