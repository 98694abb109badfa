# The README's commands. Each target installs what it needs first (apt packages, .venv).
PY := .venv/bin/python
ARGS ?= --rtsp

.PHONY: setup setup-dev run doctor test check soak bench screenshot clean

setup:
	bash scripts/setup.sh

setup-dev:
	bash scripts/setup.sh --dev

run: setup
	$(PY) -m camera_streaming $(ARGS)

doctor: setup
	$(PY) -m camera_streaming doctor

test: setup-dev
	$(PY) -m pytest -m "not soak" -q tests

check: setup-dev
	$(PY) -m ruff check src tests bench examples
	$(PY) -m ruff format --check src tests bench examples
	$(PY) -m mypy

soak: setup-dev
	$(PY) -m pytest -m soak -q -s tests/soak

# Refresh docs/images/status-page.png from the headless-Chromium test.
screenshot: setup-dev
	CAMERA_STREAMING_UPDATE_DOCS=1 $(PY) -m pytest -q tests/integration/test_operations.py -k chromium

bench: setup-dev
	$(PY) -m bench

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
