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

test: bootstrap lint
	$(VENV)/python -m pytest -q -p no:cacheprovider

demo: bootstrap
	bash scripts/demo.sh
