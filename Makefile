# `make run` serves the API on the embedded default; `make test` runs every check CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test test-n8n lint unit format clean system-deps

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(BIN)/aigen serve

lint: install
	$(BIN)/ruff check src tests bench faults
	$(BIN)/ruff format --check src tests bench faults
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: install
	$(BIN)/pytest tests/unit -q

# Debian packages the tests use: Chromium for the console's browser tests, promtool (package
# prometheus) for the alert rules, GraphicsMagick for n8n's Edit Image node in the workflow test.
# Installed when missing (this needs root, as on our machines).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v gm >/dev/null || missing="$$missing graphicsmagick"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

test: lint system-deps
	$(BIN)/pytest
	$(MAKE) --no-print-directory test-n8n

# The shipped n8n workflow in a real n8n 2.8: installs n8n the first time (minutes, ~2.5 GB,
# cached outside the clone; needs Node.js 20.19+ and npm), then drives requests through it.
test-n8n: install
	@started=$$(date +%s); \
	$(BIN)/pytest -m n8n tests/n8n -s; status=$$?; \
	echo "test-n8n: $$(( $$(date +%s) - started )) s"; exit $$status

format: install
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench bench-smoke
bench: install system-deps  # minutes: writes docs/PERFORMANCE.md and bench/results/
	$(BIN)/python -m bench.run

bench-smoke: install system-deps  # seconds: keeps the harness working (CI)
	$(BIN)/python -m bench.run --smoke

.PHONY: faults faults-short
faults: install  # breaks RabbitMQ and PostgreSQL of this machine mid-load (restored after); writes docs/RELIABILITY.md
	$(BIN)/python -m faults.run

faults-short: install  # the same, bounded to a few minutes
	$(BIN)/python -m faults.run --short
