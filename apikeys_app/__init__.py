"""API keys for the services that call us: hashed at rest, named, revocable, scoped."""
