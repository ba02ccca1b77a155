# Developer shortcuts; the README's set-up commands do not need make.
PYTHON ?= .venv/bin/python

.PHONY: bench bench-quick bench-scale
bench:  ## the benchmark (PostgreSQL, Redis, gunicorn, Celery, loopback fakes on 127.0.0.1; under 10 minutes)
	$(PYTHON) -m bench

bench-quick:  ## shorter runs, for a look before the real thing
	$(PYTHON) -m bench --quick

bench-scale:  ## the delivery log at scale: fill ROWS logs (default 10 million) in its own database, time issue #15's table
	$(PYTHON) -m bench.scale $(if $(ROWS),--rows $(ROWS)) $(if $(PERIOD),--period $(PERIOD))
