"""The in-app inbox: each user's feed of in-app messages, its counters, the end users' feed API and live updates."""
