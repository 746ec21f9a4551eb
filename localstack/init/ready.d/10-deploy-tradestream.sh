#!/bin/bash
# LocalStack READY hook (runs inside the container once LocalStack serves requests).
#
# LocalStack keeps no state across restarts here (PERSISTENCE=0), so this hook redeploys the stack that
# `make localstack-deploy` last built and deployed: the build in .aws-sam/localstack/ and the parameters
# in .aws-sam/localstack/stack.env, both written by localstack/deploy.sh. On a first start there is no
# build yet: the hook says so and succeeds; run `make localstack-deploy` (it waits for this hook first).
#
# The container has the AWS CLI (`awslocal`) but no SAM CLI, so the hook packages the already-built,
# already-transformable template with `cloudformation package` and deploys it with `cloudformation deploy`.
set -euo pipefail

ROOT="${TRADESTREAM_DIR:-/opt/tradestream}"
STATE="$ROOT/.aws-sam/localstack"
log() { echo "[tradestream ready hook] $*"; }

if [[ ! -f "$STATE/stack.env" || ! -f "$STATE/build/template.json" ]]; then
  log "no previous build in $STATE; run 'make localstack-deploy' on the host to build and deploy"
  exit 0
fi

# Credentials are required for every call, LocalStack ignores their values.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

# shellcheck source=/dev/null
source "$STATE/stack.env" # STACK_NAME, ARTIFACT_BUCKET, SIGNING_KEY_PARAMETER, PARAMETER_OVERRIDES

if [[ -f "$ROOT/.dev-keys/signing-key.json" ]]; then
  awslocal ssm put-parameter --name "$SIGNING_KEY_PARAMETER" --type SecureString --overwrite \
    --value "file://$ROOT/.dev-keys/signing-key.json" >/dev/null
  log "seeded $SIGNING_KEY_PARAMETER from .dev-keys/signing-key.json"
else
  log "warning: $ROOT/.dev-keys/signing-key.json is missing; login and the authorizer will fail until it exists"
fi

awslocal s3 mb "s3://$ARTIFACT_BUCKET" >/dev/null 2>&1 || true
# The repository is mounted read-only: package into /tmp.
awslocal cloudformation package \
  --template-file "$STATE/build/template.json" \
  --s3-bucket "$ARTIFACT_BUCKET" \
  --output-template-file /tmp/tradestream-packaged.yaml >/dev/null
# shellcheck disable=SC2086 # PARAMETER_OVERRIDES is a list of Key=Value words
awslocal cloudformation deploy \
  --template-file /tmp/tradestream-packaged.yaml \
  --stack-name "$STACK_NAME" \
  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
  --no-fail-on-empty-changeset \
  --parameter-overrides $PARAMETER_OVERRIDES
log "redeployed $STACK_NAME from the last build"
