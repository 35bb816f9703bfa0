# civicloop — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo test lint typecheck pytest lock bench clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: install
	DEBUG=1 $(BIN)/civicloop demo --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy civicloop

pytest: install
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

test: lint typecheck pytest

# Maintainers: refresh the pinned lock after editing pyproject.toml.
lock:
	test -x .uv/bin/uv || ($(PYTHON) -m venv .uv && .uv/bin/pip install --quiet uv==0.13.9)
	.uv/bin/uv pip compile pyproject.toml --group dev --generate-hashes --python-version 3.11 -o requirements.lock

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .uv .mypy_cache .ruff_cache var/
