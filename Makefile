# The two commands a fresh machine needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
KEYS := .dev-keys/signing-key.json
SIGNING_KEY_PARAMETER ?= /tradestream/local/jwt-signing-key

.PHONY: install run test lint unit integration e2e format contracts openapi bench bench-matching clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(KEYS): | $(STAMP)
	$(BIN)/python scripts/dev_keys.py .dev-keys

# Starts moto on 127.0.0.1:4566 and the API on 127.0.0.1:3000 (LOCALCLOUD_AWS_PORT / LOCALCLOUD_API_PORT).
run: $(STAMP) $(KEYS)
	exec $(BIN)/python -m localcloud --ssm $(SIGNING_KEY_PARAMETER)=@$(KEYS) run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/cfn-lint template.yaml
	$(BIN)/python scripts/contracts.py --check
	$(BIN)/python scripts/openapi.py --check

# Regenerates the OpenAPI document served at GET /api/openapi.json (a check fails when it drifts).
openapi: $(STAMP)
	$(BIN)/python scripts/openapi.py

# Regenerates contracts/*.schema.json from the pydantic event models (a test fails when they drift).
contracts: $(STAMP)
	$(BIN)/python scripts/contracts.py

test: lint
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
