# civicloop — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR := civicloop/web/static/vendor/VERSIONS.txt
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install system bench-system messages static demo test lint typecheck pytest lock bench clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Debian packages the project needs besides Python: gettext (msgfmt), Chromium for the browser
# tests (never a downloaded browser) and a Chinese font for the PDF outlet labels.
system:
	./scripts/debian-packages.sh

# The same, plus what the benchmarks need (wrk for `python -m bench cases --http`).
bench-system:
	./scripts/debian-packages.sh --bench

# English translations (Chinese is the source language).
messages: install system
	cd civicloop && ../$(BIN)/civicloop compilemessages --verbosity 0

# Front-end libraries (htmx, Leaflet, ECharts) from the npm lock file, copied into static files
# (no CDN).
static: system $(VENDOR)

$(VENDOR): package.json package-lock.json scripts/build-static.mjs
	npm ci --no-audit --no-fund --loglevel=error
	node scripts/build-static.mjs

demo: install messages static
	DEBUG=1 CASE_EVENT_DELIVERY=worker $(BIN)/civicloop demo --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy civicloop

# Browser tests drive Playwright's sync API, which keeps an event loop in its process; the
# asyncio ingest tests need their own loop, and the web suite's session-wide Playwright clashes
# with the environment suite's own, so each kind runs in a process of its own.
pytest: install messages static
	$(BIN)/pytest -p no:cacheprovider -n 2 -m "not browser" $(PYTEST_ARGS)
	$(BIN)/pytest -p no:cacheprovider -m browser civicloop/web $(PYTEST_ARGS)
	$(BIN)/pytest -p no:cacheprovider -m browser civicloop/environment $(PYTEST_ARGS)

test: lint typecheck pytest

# Maintainers: refresh the pinned lock after editing pyproject.toml.
lock:
	test -x .uv/bin/uv || ($(PYTHON) -m venv .uv && .uv/bin/pip install --quiet uv==0.13.9)
	.uv/bin/uv pip compile pyproject.toml --group dev --generate-hashes --python-version 3.11 -o requirements.lock

bench: install bench-system
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .uv .mypy_cache .ruff_cache var/
