#!/usr/bin/env bash
# Deploys template.yaml to a running LocalStack (`docker compose up -d --wait` first) and prints the
# API URL. Safe to re-run: secrets are created or updated, migrations are idempotent, an unchanged
# stack is not an error.
#
#   infra/localstack/deploy.sh
#   ADMIN_EMAIL=me@example.com ADMIN_PASSWORD='...' infra/localstack/deploy.sh   # also seed an admin
#   SKIP_BUILD=1 infra/localstack/deploy.sh        # redeploy the last build
#   VENDOR_LAYERS=0 infra/localstack/deploy.sh     # licensed LocalStack image: layers work natively
#
# Steps: 1. the Secrets Manager secrets the template reads (database URL as LocalStack's Lambda
# containers see PostgreSQL, a random JWT key and a random TOTP key kept across runs); 2. `angebae migrate` (and seed-admin);
# 3. `samlocal build` (or `sam build`); 4. copy the layers into each function (the Community image
# accepts layers but does not mount them); 5. `samlocal deploy` with parameter overrides; 6. local-only
# function settings (COOKIE_SECURE=false over plain HTTP, TESSDATA_PREFIX for the vendored OCR layer);
# 7. the API URL and a /health smoke test.
#
# Needs: a running LocalStack (4566) and the compose PostgreSQL, the AWS CLI (`aws`), samlocal
# (`pip install aws-sam-cli-local`, which also needs `sam`) or sam, python3, and this repo's venv
# (`make setup`) for `angebae`. The OCR layer build downloads wheels and traineddata (network).
#
# No Lambda containers? The embedded stack runs our own gateway and SQS pollers against LocalStack's
# S3 and SQS instead (it creates its own bucket and queues there and migrates the database itself):
#   .venv/bin/angebae local --aws-endpoint http://localhost:4566 \
#       --database-url postgresql://angebae:angebae@localhost:5432/angebae
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TEMPLATE="$ROOT/template.yaml"
SAM_CONFIG="$ROOT/infra/localstack/samconfig.toml"
BUILD_DIR="$ROOT/.aws-sam/localstack"

ENDPOINT="${LOCALSTACK_ENDPOINT:-http://localhost:4566}"
REGION="${AWS_DEFAULT_REGION:-us-east-1}"
STACK_NAME="${STACK_NAME:-angebae-functions}"
ARTIFACT_BUCKET="${ARTIFACT_BUCKET:-angebae-sam-artifacts}"

# Template parameters (template.yaml `Parameters`).
STAGE="${STAGE:-v1}"
CORS_ORIGINS="${CORS_ORIGINS:-http://localhost:5173}"
MEDIA_BUCKET_PREFIX="${MEDIA_BUCKET_PREFIX:-angebae-media}"
DATABASE_URL_SECRET_NAME="${DATABASE_URL_SECRET_NAME:-angebae/database-url}"
JWT_SECRET_NAME="${JWT_SECRET_NAME:-angebae/jwt-secret}"
TOTP_KEY_SECRET_NAME="${TOTP_KEY_SECRET_NAME:-angebae/totp-key}"
DB_PREPARE_THRESHOLD="${DB_PREPARE_THRESHOLD:-5}"  # direct connections, no pooler in between
WORKER_RESERVED_CONCURRENCY="${WORKER_RESERVED_CONCURRENCY:-2}"
MAX_RECEIVE_COUNT="${MAX_RECEIVE_COUNT:-5}"
LOG_LEVEL="${LOG_LEVEL:-DEBUG}"

# The same database seen from two places: LocalStack's Lambda containers join the compose network
# `angebae` (LAMBDA_DOCKER_NETWORK) and resolve the service name; this machine uses the published port.
LAMBDA_DATABASE_URL="${LAMBDA_DATABASE_URL:-postgresql://angebae:angebae@postgres:5432/angebae}"
HOST_DATABASE_URL="${HOST_DATABASE_URL:-postgresql://angebae:angebae@localhost:${POSTGRES_PORT:-5432}/angebae}"

VENDOR_LAYERS="${VENDOR_LAYERS:-1}"
SKIP_BUILD="${SKIP_BUILD:-0}"
ROTATE_JWT="${ROTATE_JWT:-0}"

# LocalStack accepts any credentials; never let real ones reach it (or this script reach AWS).
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_DEFAULT_REGION="$REGION" AWS_REGION="$REGION"
unset AWS_SESSION_TOKEN AWS_PROFILE
# samlocal reads AWS_ENDPOINT_URL; plain `sam` (boto3 >= 1.28) honours it too.
export AWS_ENDPOINT_URL="$ENDPOINT"
export SAM_CLI_TELEMETRY=0

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'deploy.sh: %s\n' "$*" >&2; exit 1; }
awsl() { aws --endpoint-url "$ENDPOINT" --region "$REGION" "$@"; }

case "${1:-}" in
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) die "unknown argument: $1 (settings are environment variables, see --help)" ;;
esac

# ---- preflight --------------------------------------------------------------------------------------
command -v aws >/dev/null || die "the AWS CLI is required (pip install awscli, or awscli-local)"
command -v python3 >/dev/null || die "python3 is required"
if command -v samlocal >/dev/null; then
  SAM=samlocal
elif command -v sam >/dev/null; then
  SAM=sam
  echo "deploy.sh: samlocal not found, using sam with AWS_ENDPOINT_URL=$ENDPOINT" \
    "(pip install aws-sam-cli-local is the path LocalStack supports)" >&2
else
  die "SAM CLI not found: pip install aws-sam-cli aws-sam-cli-local"
fi
if [[ -x "$ROOT/.venv/bin/angebae" ]]; then
  ANGEBAE="$ROOT/.venv/bin/angebae"
elif command -v angebae >/dev/null; then
  ANGEBAE="$(command -v angebae)"
else
  die "angebae CLI not found: run 'make setup' in $ROOT"
fi

health="$(curl -fsS --max-time 5 "$ENDPOINT/_localstack/health")" \
  || die "LocalStack does not answer at $ENDPOINT: docker compose up -d --wait"
python3 - "$health" <<'PY' || die "LocalStack is missing services; use the SERVICES line of docker-compose.yml"
import json, sys
services = json.loads(sys.argv[1]).get("services", {})
needed = "s3 sqs lambda apigateway cloudformation iam logs secretsmanager sts cloudwatch".split()
missing = [s for s in needed if services.get(s) not in ("available", "running")]
if missing:
    print("not available:", ", ".join(missing), file=sys.stderr)
    sys.exit(1)
PY

# ---- 1. secrets ------------------------------------------------------------------------------------
# put_secret NAME VALUE KEEP: create, or update unless KEEP=1 and the secret already has a value.
put_secret() {
  local name="$1" value="$2" keep="$3"
  if awsl secretsmanager describe-secret --secret-id "$name" >/dev/null 2>&1; then
    if [[ "$keep" == 1 ]] && awsl secretsmanager get-secret-value --secret-id "$name" >/dev/null 2>&1; then
      echo "kept    $name" >&2
      return
    fi
    awsl secretsmanager put-secret-value --secret-id "$name" --secret-string "$value" >/dev/null
    echo "updated $name" >&2
  else
    awsl secretsmanager create-secret --name "$name" --secret-string "$value" >/dev/null
    echo "created $name" >&2
  fi
}

log "secrets in LocalStack Secrets Manager"
put_secret "$DATABASE_URL_SECRET_NAME" "$LAMBDA_DATABASE_URL" 0
keep_jwt=1
[[ "$ROTATE_JWT" == 1 ]] && keep_jwt=0  # rotating the key signs every admin out
put_secret "$JWT_SECRET_NAME" "$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" "$keep_jwt"
# Kept once made: a new key would leave every enrolled second factor unreadable.
put_secret "$TOTP_KEY_SECRET_NAME" "$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" 1

# ---- 2. database -----------------------------------------------------------------------------------
log "migrations on $HOST_DATABASE_URL"
"$ANGEBAE" migrate --template "$TEMPLATE" --database-url "$HOST_DATABASE_URL"
if [[ -n "${ADMIN_EMAIL:-}" ]]; then
  [[ -n "${ADMIN_PASSWORD:-}" ]] || die "ADMIN_EMAIL is set but ADMIN_PASSWORD is not"
  log "admin $ADMIN_EMAIL"
  "$ANGEBAE" seed-admin --template "$TEMPLATE" --database-url "$HOST_DATABASE_URL" \
    --email "$ADMIN_EMAIL" --password "$ADMIN_PASSWORD"
fi

# ---- 3. build --------------------------------------------------------------------------------------
if [[ "$SKIP_BUILD" != 1 ]]; then
  log "$SAM build -> ${BUILD_DIR#"$ROOT"/}"
  rm -rf "$BUILD_DIR"  # the vendoring below edits the build output: never build on top of it
  (cd "$ROOT" && "$SAM" build --config-file "$SAM_CONFIG" --template-file "$TEMPLATE" \
    --build-dir "$BUILD_DIR")
fi
[[ -f "$BUILD_DIR/template.yaml" ]] || die "no build in $BUILD_DIR (run without SKIP_BUILD=1)"

# ---- 4. layers -------------------------------------------------------------------------------------
# LocalStack Community accepts AWS::Lambda::LayerVersion and the functions' Layers, but does not
# mount layer content at /opt: the functions would not find `angebae`. Copying the layers' python/
# into each function's /var/task gives the same import path. A marker keeps re-runs (SKIP_BUILD=1)
# from copying twice.
if [[ "$VENDOR_LAYERS" == 1 ]]; then
  log "vendoring layers into the functions (LocalStack Community does not apply layers)"
  [[ -d "$BUILD_DIR/CommonLayer/python" ]] || die "no CommonLayer build in $BUILD_DIR"
  for fn_dir in "$BUILD_DIR"/*Function; do
    [[ -d "$fn_dir" && ! -e "$fn_dir/.layers-vendored" ]] || continue
    cp -R "$BUILD_DIR/CommonLayer/python/." "$fn_dir/"
    if [[ "$(basename "$fn_dir")" == OcrWorkerFunction ]]; then
      [[ -d "$BUILD_DIR/OcrLayer/python" ]] || die "no OcrLayer build in $BUILD_DIR"
      cp -R "$BUILD_DIR/OcrLayer/python/." "$fn_dir/"
      cp -R "$BUILD_DIR/OcrLayer/share" "$fn_dir/"  # -> /var/task/share/tessdata
    fi
    touch "$fn_dir/.layers-vendored"
    echo "  $(basename "$fn_dir")" >&2
  done
fi

# ---- 5. deploy -------------------------------------------------------------------------------------
log "artifact bucket s3://$ARTIFACT_BUCKET"
awsl s3api head-bucket --bucket "$ARTIFACT_BUCKET" >/dev/null 2>&1 \
  || awsl s3api create-bucket --bucket "$ARTIFACT_BUCKET" >/dev/null

log "$SAM deploy $STACK_NAME"
(cd "$ROOT" && "$SAM" deploy --config-file "$SAM_CONFIG" \
  --template-file "$BUILD_DIR/template.yaml" \
  --stack-name "$STACK_NAME" --region "$REGION" --s3-bucket "$ARTIFACT_BUCKET" \
  --parameter-overrides \
    "Stage=$STAGE" \
    "CorsOrigins=$CORS_ORIGINS" \
    "MediaBucketPrefix=$MEDIA_BUCKET_PREFIX" \
    "DatabaseUrlSecretName=$DATABASE_URL_SECRET_NAME" \
    "JwtSecretName=$JWT_SECRET_NAME" \
    "TotpKeySecretName=$TOTP_KEY_SECRET_NAME" \
    "DbPrepareThreshold=$DB_PREPARE_THRESHOLD" \
    "WorkerReservedConcurrency=$WORKER_RESERVED_CONCURRENCY" \
    "MaxReceiveCount=$MAX_RECEIVE_COUNT" \
    "LogLevel=$LOG_LEVEL")

physical_id() {
  awsl cloudformation describe-stack-resource --stack-name "$STACK_NAME" \
    --logical-resource-id "$1" --query StackResourceDetail.PhysicalResourceId --output text
}

# ---- 6. local-only function settings -----------------------------------------------------------------
# Over plain http://localhost a Secure (__Host-) cookie is never sent back: as `angebae local` does,
# turn COOKIE_SECURE off where a function has it. The vendored OCR layer's models are in /var/task.
# Re-applied on every run: a CloudFormation update of a function resets its environment.
log "local-only settings"
fn_ids="$(awsl cloudformation list-stack-resources --stack-name "$STACK_NAME" \
  --query "StackResourceSummaries[?ResourceType=='AWS::Lambda::Function'].LogicalResourceId" --output text)"
for logical in $fn_ids; do
  name="$(physical_id "$logical")"
  current="$(awsl lambda get-function-configuration --function-name "$name" --query Environment --output json)"
  tessdata=""
  [[ "$VENDOR_LAYERS" == 1 && "$logical" == OcrWorkerFunction ]] && tessdata=/var/task/share/tessdata
  updated="$(python3 - "$current" "$tessdata" <<'PY'
import json, sys
env = json.loads(sys.argv[1] or "null") or {}
variables = dict(env.get("Variables") or {})
before = dict(variables)
if "COOKIE_SECURE" in variables:
    variables["COOKIE_SECURE"] = "false"
if sys.argv[2]:
    variables["TESSDATA_PREFIX"] = sys.argv[2]
print(json.dumps({"Variables": variables}) if variables != before else "")
PY
)"
  if [[ -n "$updated" ]]; then
    awsl lambda update-function-configuration --function-name "$name" --environment "$updated" >/dev/null
    echo "  $logical" >&2
  fi
done

# ---- 7. where it is ----------------------------------------------------------------------------------
api_id="$(physical_id AdminApi)"
api_url="$ENDPOINT/restapis/$api_id/$STAGE/_user_request_"
log "stack outputs"
awsl cloudformation describe-stacks --stack-name "$STACK_NAME" \
  --query "Stacks[0].Outputs[].[OutputKey,OutputValue]" --output text >&2 || true

log "smoke test: GET $api_url/health"
if curl -fsS --max-time 60 "$api_url/health"; then
  echo
else
  echo "health check failed; its logs: aws --endpoint-url $ENDPOINT logs filter-log-events" \
    "--log-group-name /aws/lambda/$(physical_id HealthFunction)" >&2
fi

cat >&2 <<EOF

API (LocalStack):  $api_url/
             also: http://$api_id.execute-api.localhost.localstack.cloud:4566/$STAGE/
Secrets:           $DATABASE_URL_SECRET_NAME, $JWT_SECRET_NAME, $TOTP_KEY_SECRET_NAME
Database (host):   $HOST_DATABASE_URL

Without LocalStack's Lambda containers (our gateway + pollers on LocalStack's S3/SQS):
  $ANGEBAE local --aws-endpoint $ENDPOINT --database-url $HOST_DATABASE_URL
EOF
echo "$api_url/"
