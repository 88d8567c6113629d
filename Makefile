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

# pytest-xdist: the browser and crawl tests wait on sockets and timers as much as they compute, so
# six workers keep two cores busy (2026-12-05, alternating runs on one machine: six workers took
# 0.92 of four's wall time, median of three pairs, the cores 89 % busy against 80 %; eight took
# 1.06 of six's, the same way on another machine that day: more workers only add contention).
# Work units (tests/conftest.py): a test marked long(seconds) alone, every other test with its
# file (module fixtures start once); sent longest first by the wall times of tests/durations.json
# (written by bench/suite_cpu.py --durations), in that order (--no-loadscope-reorder: xdist would
# send the units with most tests first, and the longest test last). TEST_WORKERS=0 runs the suite
# in one process.
TEST_WORKERS ?= 6

# Bytecode is written and reused (__pycache__/, ignored by git) even where the environment sets
# PYTHONDONTWRITEBYTECODE (this machine kind does): otherwise each of the suite's ~55 CLI, crawl
# and nightly processes compiles zwaudit's 25,000 lines again (0.25 s of 0.8 s of a nightly's
# imports), and each worker rewrites every test module's assertions again (collection 4.6 s, 2.7 s
# with the cache).
test: bootstrap lint
	$(VENV)/python -m compileall -q zwaudit probes crawler scoring sandbox
	PYTHONDONTWRITEBYTECODE= $(VENV)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

demo: bootstrap
	bash scripts/demo.sh
