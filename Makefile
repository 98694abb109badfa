# The README's commands. Each target installs what it needs first (apt packages, .venv).
PY := .venv/bin/python
ARGS ?= --rtsp

.PHONY: setup setup-dev run test check soak bench clean

setup:
	bash scripts/setup.sh

setup-dev:
	bash scripts/setup.sh --dev

run: setup
	$(PY) -m camera_streaming $(ARGS)

test: setup-dev
	$(PY) -m pytest -m "not soak" -q tests

check: setup-dev
	$(PY) -m ruff check src tests bench examples
	$(PY) -m ruff format --check src tests bench examples
	$(PY) -m mypy

soak: setup-dev
	$(PY) -m pytest -m soak -q -s tests/soak

bench: setup-dev
	$(PY) -m bench

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
