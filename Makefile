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

# The SAM CLI lives in its own venv (.venv-sam): its pins clash with the project's. First run ≈ 1 min.
test: lint sam-validate
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The matching core against the pure-Python engines on PyPI (bench-only venvs under bench/). A benchmark,
# never a timed test: see docs/benchmarks.md for the numbers and bench/README.md for the method.
bench-matching: $(STAMP)
	$(BIN)/python bench/matching/run.py --commands 1000000 --seed 7

# Every benchmark: the matching core, then the platform end to end on the local cloud.
bench: bench-matching bench-e2e

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# --- LocalStack and the SAM CLI (docs/localstack.md) ----------------------------------------------------
# The SAM CLI pins clash with the project's, so it lives in its own venv (python3.11 -m venv .venv-sam).
SAM_VENV := .venv-sam
COMPOSE := docker compose -f localstack/docker-compose.yml

$(SAM_VENV)/bin/sam:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli

$(SAM_VENV)/bin/samlocal: $(SAM_VENV)/bin/sam
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli-local

.PHONY: localstack-up localstack-deploy localstack-down sam-validate

# Starts LocalStack in Docker and waits until it serves (and its READY hook has redeployed the last build).
localstack-up: $(STAMP)
	@test -n "$$LOCALSTACK_AUTH_TOKEN" || { echo "LOCALSTACK_AUTH_TOKEN is not set: export your LocalStack auth token (https://app.localstack.cloud, Auth Token) and retry" >&2; exit 1; }
	$(COMPOSE) up -d
	$(BIN)/python localstack/stack.py wait --timeout $${LOCALSTACK_WAIT_SECONDS:-600}

# samlocal build && samlocal deploy --config-env localstack (see localstack/deploy.sh).
localstack-deploy: $(STAMP) $(KEYS) $(SAM_VENV)/bin/samlocal
	SAMLOCAL=$(SAM_VENV)/bin/samlocal PYTHON=$(BIN)/python localstack/deploy.sh

# Compose reads the whole file even to stop it: the token only has to be set, not valid.
localstack-down:
	LOCALSTACK_AUTH_TOKEN=$${LOCALSTACK_AUTH_TOKEN:-unused} $(COMPOSE) down

# Works offline (the lint is cfn-lint inside the SAM CLI); telemetry off so nothing is sent.
sam-validate: $(SAM_VENV)/bin/sam
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --template template.yaml

.PHONY: events
# Rewrites events/*.json from scripts/sample_events.py (tests/integration/test_sample_events.py fails on drift).
events: $(STAMP)
	$(BIN)/python scripts/sample_events.py

# --- the platform under load (issue 9): invariant audit, trading bots, end-to-end benchmark ------------
.PHONY: audit bots bench-e2e
BENCH_STAMP := $(VENV)/.bench-installed-stamp

# matplotlib for the benchmark's curve (the bench extra), on top of the dev install.
$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

# Checks every invariant on the tables of a running deployment: by default `make run`'s local cloud
# (127.0.0.1:4566, stack tradestream-local); AUDIT_ARGS="--endpoint HOST:PORT --stack-name NAME" otherwise.
audit: $(STAMP)
	$(BIN)/python -m tradestream.audit $(AUDIT_ARGS)

# Simulated traders against a running API (`make run`'s on 127.0.0.1:3000), then quiescence and the audit;
# BOTS_ARGS="--users 40 --tickers 10 --rate 20 --duration 60 --seed 7" and so on.
bots: $(STAMP)
	$(BIN)/python -m tradestream.bots $(BOTS_ARGS)

# The end-to-end benchmark on a fresh local cloud of its own (free ports): a few minutes; BENCH_ARGS=--full
# for 30 s curve steps and the 2-minute sustained run across 10 tickers. Results land in bench/results/.
bench-e2e: $(BENCH_STAMP)
	$(BIN)/python bench/e2e/run.py $(BENCH_ARGS)

# --- fault injection (issue 9) ---------------------------------------------------------------------------
.PHONY: chaos
# The bots for a few minutes against a fresh local cloud (free ports) with every fault at once: duplicate
# deliveries, killed workers, forced cold starts, throttling, poison; ends with the audit and the DLQ check,
# exit 1 on any violation. CHAOS_ARGS="--duration 300 --rate 8 --kill 0.05 --seed 11" and so on.
chaos: $(STAMP)
	$(BIN)/python -m tests.faults.chaos $(CHAOS_ARGS)
