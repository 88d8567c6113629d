# The two commands of the README: `make demo` (the nightly audit on the sandbox) and `make test`.
SHELL := /bin/bash
VENV := .venv/bin

.PHONY: demo test lint bootstrap

bootstrap:
	@bash scripts/bootstrap.sh

lint: bootstrap
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy zwaudit probes scoring crawler sandbox bench

# pytest-xdist: the browser and crawl tests wait on sockets as much as they compute, so three
# workers keep two cores busy; whole files per worker, so module fixtures (a sandbox of two
# provinces, a worker fleet) start once. TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 3

test: bootstrap lint
	$(VENV)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

demo: bootstrap
	bash scripts/demo.sh
