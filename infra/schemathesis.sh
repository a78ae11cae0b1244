#!/usr/bin/env bash
# Property-based contract test: checks every operation of openapi.yaml against the running local
# stack with schemathesis (5xx, undocumented status codes, response schema and content type).
#
# Usage: bash infra/schemathesis.sh          (the stack must be up: infra/stack.sh up)
#
# Needs curl and what `python3 -m pip install -r infra/requirements.txt` installs (schemathesis,
# boto3). Sets up its own data first: the partner configuration (inline orders on), a vendor
# organisation and an SR company connected through the consent page, a catalog, an order and an
# inline order; then runs schemathesis once per Lambda (each function answers under its own
# `cargo lambda watch` prefix). Exits non-zero when any run finds a problem.
#
# Environment (defaults):
#   ST_MAX_EXAMPLES=30     test cases per operation in the fuzzing phase
#   ST_PHASES=examples,coverage,fuzzing
#   ST_WORKERS=1           concurrent schemathesis workers (each local function answers one
#                          request at a time anyway)
#   ST_REQUEST_TIMEOUT=30  seconds per request; a request that times out is retried 3 times
#                          (`cargo lambda watch` restarts every function when a file of the
#                          repository changes, dropping the request in flight, and rebuilds it)
#   ST_SEED=               a hypothesis seed, to replay a run
#   ST_REPORT=junit        report formats (`st run --report`), e.g. junit,har
#   ST_REPORT_DIR=test-output/schemathesis   reports, one directory per function
#   STACK_ENV_FILE=.local/stack.env
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

STACK_ENV_FILE="${STACK_ENV_FILE:-$ROOT/.local/stack.env}"
ST_MAX_EXAMPLES="${ST_MAX_EXAMPLES:-30}"
ST_PHASES="${ST_PHASES:-examples,coverage,fuzzing}"
ST_WORKERS="${ST_WORKERS:-1}"
ST_REQUEST_TIMEOUT="${ST_REQUEST_TIMEOUT:-30}"
ST_SEED="${ST_SEED:-}"
ST_REPORT_DIR="${ST_REPORT_DIR:-$ROOT/test-output/schemathesis}"
ST_REPORT="${ST_REPORT:-junit}"
SPEC="$ROOT/openapi.yaml"

log() { printf '[schemathesis] %s\n' "$*" >&2; }
die() { printf '[schemathesis] ERROR: %s\n' "$*" >&2; exit 1; }

[[ -f "$STACK_ENV_FILE" ]] || die "cannot read $STACK_ENV_FILE: start the stack first (infra/stack.sh up)"
command -v curl >/dev/null || die "curl is required"
# The schemathesis the same python3 has (`st` on PATH may be another tool or another Python's).
python3 -c 'import schemathesis, openapi_spec_validator, boto3' 2>/dev/null \
  || die "schemathesis, openapi-spec-validator or boto3 is missing: python3 -m pip install -r infra/requirements.txt"
ST=(python3 -m schemathesis.cli)

python3 -m openapi_spec_validator "$SPEC" >/dev/null || die "openapi.yaml is not a valid OpenAPI document"
log "openapi.yaml is a valid OpenAPI 3.1 document"

# The stack's env file is KEY=VALUE lines, quoted for the shell where needed.
set -a
# shellcheck disable=SC1090
. "$STACK_ENV_FILE"
set +a
: "${LAMBDA_INVOKE_URL_PREFIX:?missing in $STACK_ENV_FILE}"
: "${SR_SIM_URL:?missing in $STACK_ENV_FILE}"
: "${VENDOR_API_KEY:?missing in $STACK_ENV_FILE}"
: "${SR_API_BASE_URL:?missing in $STACK_ENV_FILE}"
PREFIX="$LAMBDA_INVOKE_URL_PREFIX"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

RUN="st$(date +%s)$$"
COMPANY="$RUN-company"
ORG="$RUN-org"

# http METHOD URL [curl args...]: prints the body, fails unless the status is 2xx/3xx.
http() {
  local method=$1 url=$2 out status
  shift 2
  out="$WORK/body"
  status="$(curl -sS -o "$out" -w '%{http_code}' -X "$method" "$url" "$@")" \
    || die "$method $url: request failed"
  if [[ "$status" != 2* && "$status" != 3* ]]; then
    die "$method $url answered $status: $(head -c 600 "$out")"
  fi
  cat "$out"
}

json_field() { # json_field EXPR < json: prints python expression EXPR over `d`
  python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

# ---------------------------------------------------------------- set-up
log "registering the partner configuration (inline orders on, one custom field)"
cat >"$WORK/settings.json" <<'JSON'
{"consent_display_mode": "POPUP", "inline_enabled": true,
 "fields": [{"id": "lens", "name": "Lens", "description": "Which lens"}]}
JSON
CONNECTOR_BIN="$(python3 "$ROOT/infra/cargo_target.py" connector)"
if [[ -x "$CONNECTOR_BIN" ]]; then
  CONNECTOR=("$CONNECTOR_BIN")
else
  CONNECTOR=(cargo run --quiet -p connector-cli --bin connector --)
fi
"${CONNECTOR[@]}" --env-file "$STACK_ENV_FILE" configure --local-prefix "$PREFIX" \
  --settings "$WORK/settings.json" >"$WORK/configure.log" 2>&1 \
  || die "connector configure failed: $(cat "$WORK/configure.log")"

log "connecting SR company $COMPANY to vendor organisation $ORG through the consent page"
KEY="$(http POST "$PREFIX/vendor-api/assessment/connect-keys" \
  -H "Authorization: Bearer $VENDOR_API_KEY" -H 'Content-Type: application/json' \
  -d "{\"organisations\": [{\"id\": \"$ORG\", \"name\": \"Schemathesis org\"}]}" \
  | json_field 'd["data"]["connect_key"]')"
http GET "$PREFIX/consent/integration?companyId=$COMPANY" -c "$WORK/cookies" >"$WORK/consent.html"
CSRF="$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$WORK/consent.html" | head -n1)"
[[ -n "$CSRF" ]] || die "the consent page has no csrf field"
http POST "$PREFIX/consent/integration" -b "$WORK/cookies" \
  --data-urlencode "company_id=$COMPANY" --data-urlencode "csrf=$CSRF" \
  --data-urlencode "step=key" --data-urlencode "connect_key=$KEY" >"$WORK/connected.html"
grep -q 'id="done"' "$WORK/connected.html" || die "consent did not connect: $(head -c 600 "$WORK/connected.html")"

log "fetching an access token as SR (the simulator holds the company's credentials)"
TOKEN="$(http POST "$SR_SIM_URL/__sim/companies/$COMPANY/token" \
  | json_field 'd["body"]["access_token"] if d["status"] == 200 else ""')"
[[ -n "$TOKEN" ]] || die "the simulator got no access token for $COMPANY"
# The inbound pair (what SR presents to /oauth/token), so some generated token requests use
# real credentials: from the simulator, which holds them as SR does (the connector keeps only
# the secret's digest).
CLIENT_JSON="$(http GET "$SR_SIM_URL/__sim/companies/$COMPANY/credentials")"

publish_catalog() {
  http PUT "$PREFIX/vendor-api/assessment/packages" \
    -H "Authorization: Bearer $VENDOR_API_KEY" -H "X-Integration-Id: $ORG" \
    -H 'Content-Type: application/json' -d @- >/dev/null <<JSON
{"packages": [
  {"id": "java-senior", "type": "SKILLS_TEST", "name": "Senior Java developer",
   "description": "Coding exercise and a system-design quiz, 90 minutes",
   "assessments": [
     {"id": "java-coding", "name": "Coding exercise", "description": "Three Java tasks"},
     {"id": "system-design", "name": "System design quiz", "description": "20 questions"}]},
  {"id": "culture-fit", "type": "BEHAVIORAL", "name": "Culture fit",
   "description": "Work-style questionnaire"},
  {"id": "quick-quiz", "type": "INLINE_ASSESSMENT", "name": "Quick quiz",
   "description": "Five minutes", "inline_url_template": "https://vendor.example.com/inline/{orderId}?lang={language}"}
]}
JSON
}
log "publishing a catalog for $ORG"
publish_catalog

log "placing an order and an inline order as SR"
ORDER_ID="$(http POST "$SR_SIM_URL/__sim/companies/$COMPANY/orders" -H 'Content-Type: application/json' \
  -d '{"assessmentPackageId": "java-senior"}' | json_field 'd["orderId"] if d["status"] == 202 else ""')"
INLINE_ID="$(http POST "$SR_SIM_URL/__sim/companies/$COMPANY/orders" -H 'Content-Type: application/json' \
  -d '{"assessmentPackageId": "quick-quiz", "inline": true}' | json_field 'd["orderId"] if d["status"] == 200 else ""')"
[[ -n "$ORDER_ID" && -n "$INLINE_ID" ]] || die "the set-up orders were refused"

# Read by infra/schemathesis_hooks.py: about half of the generated cases use this real data.
export SCHEMATHESIS_HOOKS="$ROOT/infra/schemathesis_hooks.py"
export HYPOTHESIS_STORAGE_DIRECTORY="$WORK/.hypothesis"
export ST_RUN_ID="$RUN" ST_COMPANY_ID="$COMPANY" ST_ORDER_IDS="$ORDER_ID,$INLINE_ID"
export ST_PACKAGE_ID=java-senior ST_INLINE_PACKAGE_ID=quick-quiz ST_SR_API_BASE_URL="$SR_API_BASE_URL"
export ST_CLIENT_ID ST_CLIENT_SECRET
ST_CLIENT_ID="$(json_field 'd["clientId"]' <<<"$CLIENT_JSON")"
ST_CLIENT_SECRET="$(json_field 'd["clientSecret"]' <<<"$CLIENT_JSON")"

# ---------------------------------------------------------------- runs
mkdir -p "$ST_REPORT_DIR"
FAILED=()

# run_st NAME FUNCTION ST-ARGS...: one schemathesis run against one function (its own prefix).
run_st() {
  local name=$1 function=$2
  shift 2
  local checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
  local args=(run "$SPEC" --url "$PREFIX/$function" --checks "$checks"
    --phases "$ST_PHASES" --max-examples "$ST_MAX_EXAMPLES" --workers "$ST_WORKERS"
    --generation-database none --request-timeout "$ST_REQUEST_TIMEOUT" --request-retries 3 --no-color
    --report "$ST_REPORT" --report-dir "$ST_REPORT_DIR/$name" "$@")
  if [[ -n "$ST_SEED" ]]; then args+=(--seed "$ST_SEED"); fi
  rm -rf "${ST_REPORT_DIR:?}/${name:?}"
  log "== $name ($PREFIX/$function)"
  # From the scratch directory: schemathesis and hypothesis keep caches in the working directory,
  # and a write inside the repository makes `cargo lambda watch` restart every function.
  if ! (cd "$WORK" && "${ST[@]}" "${args[@]}"); then
    FAILED+=("$name")
  fi
}

SR_AUTH=(-H "Authorization: Bearer $TOKEN")
VENDOR_AUTH=(-H "Authorization: Bearer $VENDOR_API_KEY" -H "X-Integration-Id: $ORG")

run_st vendor-api vendor-api --include-path-regex '^/assessment/' "${VENDOR_AUTH[@]}"
# The vendor run replaced the catalog with generated ones: put the set-up catalog back.
publish_catalog
run_st oauth-token oauth-token --include-path /oauth/token
run_st list-packages list-packages --include-path /packages "${SR_AUTH[@]}"
run_st get-package get-package --include-path '/packages/{assessmentPackageId}' "${SR_AUTH[@]}"
run_st create-order create-order --include-path /packages/orders "${SR_AUTH[@]}"
run_st create-inline-order create-inline-order --include-path /packages/inline/orders "${SR_AUTH[@]}"
run_st consent consent --include-path /integration
run_st consent-callback consent --include-path /integration/callback
# Last: a generated call may disable the company whose token the other runs use.
run_st disable-integration disable-integration --include-path '/integrations/companies/{companyId}' "${SR_AUTH[@]}"

if ((${#FAILED[@]})); then
  die "schemathesis found problems in: ${FAILED[*]} (reports in $ST_REPORT_DIR)"
fi
log "all operations conform to openapi.yaml"
