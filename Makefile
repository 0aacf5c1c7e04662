# Two commands for a newcomer: `make run` (the hub on embedded defaults) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-national lint typecheck unit integration bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s)" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## The hub on this machine: SQLite files under ./var, RabbitMQ (started if installed), loopback simulators.
run: setup
	$(BIN)/hub up --simulators

## Everything CI checks: lint, types, then the whole test suite on real RabbitMQ, SQLite and PostgreSQL.
## Tests run on parallel workers (each isolates its own vhost and databases); the chaos tests restart
## RabbitMQ itself, so they run afterwards, alone.
TEST_WORKERS ?= 4
test: setup
	bash scripts/ensure-services
	$(MAKE) lint typecheck
	$(BIN)/pytest -q -n $(TEST_WORKERS) -m "not chaos" --durations=20
	$(MAKE) test-national
	$(BIN)/pytest -q -m chaos --durations=5

## The intake and notification suites again under national cryptography (SM4-GCM, HMAC-SM3): the suites
## that encrypt, hash and reveal personal data (docs/cryptography.md).
NATIONAL_SUITE := tests/unit/intake tests/unit/notification tests/integration/test_intake_*.py tests/integration/test_notification_*.py \
  tests/integration/test_personal_data_reveal.py tests/integration/test_sms_rating_end_to_end.py tests/integration/test_smpp_provider.py
test-national: setup
	HUB_TEST_CRYPTO=national $(BIN)/pytest -q -n $(TEST_WORKERS) -m "not chaos" -p no:randomly $(NATIONAL_SUITE)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check hub hubcli gateway services tests benchmarks
	$(BIN)/lint-imports --no-cache
	@# Tests build HTTP clients through tests/kit/http.py: httpx's own 5 s default failed CI on a busy machine.
	@if grep -rnE 'httpx\.(Async)?Client\(' tests --include='*.py' | grep -v '^tests/kit/http\.py:'; then \
	  echo "tests/: build HTTP clients with tests.kit.http.http_client() or http_sync_client()"; exit 1; fi

typecheck: setup
	$(BIN)/mypy hub hubcli gateway services benchmarks tests/kit

unit: setup
	$(BIN)/pytest -q -n $(TEST_WORKERS) tests/unit

bench: setup
	bash scripts/ensure-services
	$(BIN)/hub bench

clean:
	rm -rf $(VENV) var test-artifacts .pytest_cache .mypy_cache .ruff_cache
