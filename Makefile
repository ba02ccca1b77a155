# Developer shortcuts; the README's set-up commands do not need make.
PYTHON ?= .venv/bin/python

.PHONY: bench bench-quick
bench:  ## the benchmark (PostgreSQL, Redis, gunicorn, Celery, loopback fakes on 127.0.0.1; under 10 minutes)
	$(PYTHON) -m bench

bench-quick:  ## shorter runs, for a look before the real thing
	$(PYTHON) -m bench --quick
