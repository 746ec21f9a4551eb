#!/usr/bin/env bash
# Builds template.yaml with samlocal and deploys it to LocalStack (`make localstack-deploy` runs this).
# Step by step: docs/localstack.md.
#
#   LOCALSTACK_AUTH_TOKEN      required (the LocalStack image refuses to start without it)
#   AWS_ENDPOINT_URL           LocalStack's gateway (default http://localhost:4566)
#   SAMLOCAL                   the samlocal command (default: samlocal on PATH, else .venv-sam/bin/samlocal)
#   PYTHON                     a Python with the project installed (default .venv/bin/python)
#   LOCALSTACK_LAMBDA_LAYERS=1 keep the common layer as a layer (licensed LocalStack); by default its
#                              content is copied into every function, as the free tier serves no layers
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "localstack/deploy.sh: $*" >&2
  exit 1
}

if [[ -z "${LOCALSTACK_AUTH_TOKEN:-}" ]]; then
  fail "LOCALSTACK_AUTH_TOKEN is not set.
  LocalStack's image needs an auth token; a free account has one (https://app.localstack.cloud, Auth Token).
  export LOCALSTACK_AUTH_TOKEN=<your token>, then: make localstack-up && make localstack-deploy"
fi

PYTHON="${PYTHON:-.venv/bin/python}"
[[ -x "$PYTHON" ]] || fail "$PYTHON not found: run make install (or set PYTHON to a Python with the project installed)"
if [[ -z "${SAMLOCAL:-}" ]]; then
  if command -v samlocal >/dev/null 2>&1; then SAMLOCAL=samlocal; else SAMLOCAL=.venv-sam/bin/samlocal; fi
fi
[[ -x "$(command -v "$SAMLOCAL" || true)" ]] ||
  fail "samlocal not found: make localstack-deploy installs it into .venv-sam (or: pip install aws-sam-cli-local)"

# samlocal and boto3 send everything to LocalStack; the credentials only have to exist.
export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://localhost:4566}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" SAM_CLI_TELEMETRY="${SAM_CLI_TELEMETRY:-0}"

# The READY hook may be redeploying the previous build; deploying the same stack at once would race it.
"$PYTHON" localstack/stack.py wait --timeout "${LOCALSTACK_WAIT_SECONDS:-300}"

BUILD_DIR=.aws-sam/localstack/build
"$SAMLOCAL" build --config-env localstack --build-dir "$BUILD_DIR"
"$PYTHON" localstack/stack.py prepare
"$PYTHON" localstack/stack.py seed
# With --template-file, SAM looks for samconfig.toml next to the template: name ours explicitly.
"$SAMLOCAL" deploy --config-env localstack --config-file "$PWD/samconfig.toml" --template-file "$BUILD_DIR/template.json"

echo "TradeStream is deployed on LocalStack:"
"$PYTHON" localstack/stack.py outputs
