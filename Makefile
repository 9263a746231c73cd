# Two commands: `make demo` opens the TUI on the built-in local profile, `make test` passes every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo lock test test-fast lint typecheck screenshots benchmarks protos clean

LOCK := requirements/dev.lock

# Test and demo environments come from the lock: exact versions with hashes (torch is the CPU
# wheel on disk), then tirui itself without resolving anything again. `make lock` refreshes it.
$(VENV)/.dev-installed: $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes --no-deps -r $(LOCK)
	$(PIP) install --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $@

# Refresh the lock from pyproject.toml's ranges (the `local` and `dev` extras), in a throwaway venv
# with a pinned pip-tools; review the diff and run `make test` before committing it.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q pip-tools==7.7.0
	.lock-venv/bin/pip-compile -q --extra local --extra dev --generate-hashes --allow-unsafe \
	  --no-emit-index-url --no-emit-find-links --strip-extras -c requirements/torch.txt \
	  -o $(LOCK) pyproject.toml
	rm -rf .lock-venv

demo: $(VENV)/.dev-installed
	$(VENV)/bin/tirui demo

test: $(VENV)/.dev-installed
	$(PY) -m ruff check tirui tests benchmarks
	$(PY) -m mypy
	$(VENV)/bin/lint-imports
	PYTHONFAULTHANDLER=1 $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)  # a native crash prints every thread's stack, even at exit

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
	rm -rf $(VENV) .lock-venv build dist *.egg-info
