"""The benchmark: `make bench` or `.venv/bin/python -m bench` (see README, "Performance")."""
