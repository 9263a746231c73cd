# Two commands: `make demo` opens the TUI on the built-in local profile, `make test` passes every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test test-fast lint typecheck screenshots benchmarks protos clean

$(VENV)/.local-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first: the CPU wheel on disk; otherwise the `local` extra pulls a multi-GB CUDA build.
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[local]'
	touch $@

$(VENV)/.dev-installed: $(VENV)/.local-installed
	$(PIP) install -e '.[local,dev]'
	$(PY) -m pip check
	touch $@

demo: $(VENV)/.local-installed
	$(VENV)/bin/tirui demo

test: $(VENV)/.dev-installed
	$(PY) -m ruff check tirui tests benchmarks
	$(PY) -m mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-fast: $(VENV)/.dev-installed  # everything but the tests that start servers (marker `slow`)
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow" $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check tirui tests benchmarks
	$(PY) -m ruff format --check tirui tests benchmarks

typecheck: $(VENV)/.dev-installed
	$(PY) -m mypy

screenshots: $(VENV)/.dev-installed
	$(PY) scripts/screenshots.py

benchmarks: $(VENV)/.dev-installed
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

protos: $(VENV)/.dev-installed
	$(PY) scripts/gen_protos.py

clean:
	rm -rf $(VENV) build dist *.egg-info
