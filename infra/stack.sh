#!/usr/bin/env bash
# Start / stop the local connector stack:
#   moto      moto (infra/moto_server.py: DynamoDB, SQS, Secrets Manager) + the resources of
#             template.yaml created by infra/local_stack.py (writes .local/env)
#   sim       the SmartRecruiters simulator (<cargo target dir>/debug/sr-simulator)
#   lambda    cargo lambda watch (all functions of the workspace, with .local/env)
#   poller    infra/sqs_poller.py: results queue -> result-publisher function
#   webhooks  infra/sqs_poller.py: notifications queue -> webhook-dispatcher function
#   streams   infra/stream_poller.py: the table's stream (new orders) -> order-stream function,
#             as OrderStreamMapping in template.yaml (filter, batch, retries, on-failure queue)
#   idp       the vendor's OpenID provider for consent sign-in (infra/oidc-provider/server.mjs,
#             npm oidc-provider; `make setup` installs it)
#
# Usage: infra/stack.sh up|down|status|logs [COMPONENT]
#
# State, logs and pid files live in .local/ under the repository root
# (override with STACK_STATE_DIR). Run `cargo build --workspace` before `up`.
#
# Environment (defaults):
#   MOTO_PORT=5320 SR_SIM_PORT=5310 LAMBDA_PORT=9000 STACK_NAME=sr-connector-local
#   PARTNER_CLIENT_ID=local-partner PARTNER_CLIENT_SECRET=local-partner-secret
#   VENDOR_API_KEY=            (empty: keep the existing key or generate one)
#   LOCAL_VENDOR_NAME="Acme Assessments"   VENDOR_NAME of the local functions
#   LOCAL_INVOKE_TIMEOUT=120   seconds the result and stream pollers wait for one invocation (the
#                              deployed functions time out after 30 s; debug builds are slower)
#   LOCAL_BACKOFF_BASE_MS=200 LOCAL_BACKOFF_CAP_MS=2000   the publisher's retry backoff, short
#                              locally so fault tests finish in seconds (deployed: 2 s to 15 min)
#   LOCAL_CONSENT_REDIRECT_HOSTS=127.0.0.1,localhost,smartrecruiters.com
#                              CONSENT_REDIRECT_HOSTS of the local functions
#   LOCAL_WEBHOOK_URL=         WEBHOOK_URL of the local functions (http allowed locally);
#                              empty: webhooks off, events only listable
#   LOCAL_WEBHOOK_FORMAT=      WEBHOOK_FORMAT of the local functions: connector (template
#                              default), kombo or both
#   LOCAL_LOG_LEVEL=trace      the template's LogLevel for the local functions: the most verbose
#                              one, so tests/tests/logs.rs checks that even it leaks no secret
#   IDP_PORT=SR_SIM_PORT+1     the local OpenID provider's port (issuer http://127.0.0.1:IDP_PORT)
#   LOCAL_CONSENT_SIGN_IN=both CONSENT_SIGN_IN of the local functions (keys, oidc or both)
#   LOCAL_OIDC_REQUIRE_MFA=true OIDC_REQUIRE_MFA of the local functions
#   STACK_COMPONENTS=moto,sim,idp,lambda,poller,webhooks,streams   (subset to start, e.g. "moto")
#   LAMBDA_READY_TIMEOUT=600   seconds to wait for cargo lambda to answer
#   SIM_READY_TIMEOUT=60 MOTO_READY_TIMEOUT=30 STOP_TIMEOUT=15
#   PYTHON=python3 SR_SIM_BIN=<cargo target dir>/debug/sr-simulator (infra/cargo_target.py)
#   CARGO_LAMBDA_WATCH_ARGS=   extra `cargo lambda watch` flags, e.g. "--ignore-changes"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${STACK_STATE_DIR:-$ROOT/.local}"
HOST=127.0.0.1
MOTO_PORT="${MOTO_PORT:-5320}"
SR_SIM_PORT="${SR_SIM_PORT:-5310}"
LAMBDA_PORT="${LAMBDA_PORT:-9000}"
IDP_PORT="${IDP_PORT:-$((SR_SIM_PORT + 1))}"
LOCAL_CONSENT_SIGN_IN="${LOCAL_CONSENT_SIGN_IN:-both}"
LOCAL_OIDC_REQUIRE_MFA="${LOCAL_OIDC_REQUIRE_MFA:-true}"
# The local IdP's client secret for the connector (a local value, like the partner credential).
LOCAL_IDP_CLIENT_SECRET="${LOCAL_IDP_CLIENT_SECRET:-local-idp-secret}"
STACK_NAME="${STACK_NAME:-sr-connector-local}"
PARTNER_CLIENT_ID="${PARTNER_CLIENT_ID:-local-partner}"
PARTNER_CLIENT_SECRET="${PARTNER_CLIENT_SECRET:-local-partner-secret}"
VENDOR_API_KEY="${VENDOR_API_KEY:-}"
LOCAL_VENDOR_NAME="${LOCAL_VENDOR_NAME:-Acme Assessments}"
LOCAL_CONSENT_REDIRECT_HOSTS="${LOCAL_CONSENT_REDIRECT_HOSTS:-127.0.0.1,localhost,smartrecruiters.com}"
LOCAL_WEBHOOK_URL="${LOCAL_WEBHOOK_URL:-}"
LOCAL_WEBHOOK_FORMAT="${LOCAL_WEBHOOK_FORMAT:-}"
LOCAL_LOG_LEVEL="${LOCAL_LOG_LEVEL:-trace}"
STACK_COMPONENTS="${STACK_COMPONENTS:-moto,sim,idp,lambda,poller,webhooks,streams}"
LAMBDA_READY_TIMEOUT="${LAMBDA_READY_TIMEOUT:-600}"
SIM_READY_TIMEOUT="${SIM_READY_TIMEOUT:-60}"
MOTO_READY_TIMEOUT="${MOTO_READY_TIMEOUT:-30}"
STOP_TIMEOUT="${STOP_TIMEOUT:-15}"
PYTHON="${PYTHON:-python3}"
# Where `make build` wrote it: cargo metadata's target directory (CARGO_TARGET_DIR honoured).
SR_SIM_BIN="${SR_SIM_BIN:-$("$PYTHON" "$ROOT/infra/cargo_target.py" sr-simulator)}"
CARGO_LAMBDA_WATCH_ARGS="${CARGO_LAMBDA_WATCH_ARGS:-}"

MOTO_URL="http://$HOST:$MOTO_PORT"
SR_SIM_URL="http://$HOST:$SR_SIM_PORT"
LAMBDA_URL="http://$HOST:$LAMBDA_PORT"
LAMBDA_INVOKE_URL_PREFIX="$LAMBDA_URL/lambda-url"
IDP_URL="http://$HOST:$IDP_PORT"
# The consent function's sign-in callback as cargo lambda serves it (the IdP's redirect URI).
CONSENT_CALLBACK_URL="$LAMBDA_INVOKE_URL_PREFIX/consent/integration/callback"
ENV_FILE="$STATE_DIR/env"
STACK_ENV_FILE="$STATE_DIR/stack.env"
ALL_COMPONENTS=(moto sim idp lambda poller webhooks streams)

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

wants() { # wants COMPONENT: is it in STACK_COMPONENTS?
  [[ ",${STACK_COMPONENTS// /}," == *",$1,"* ]]
}

pid_file() { printf '%s/%s.pid' "$STATE_DIR" "$1"; }
log_file() { printf '%s/%s.log' "$STATE_DIR" "$1"; }

# The pid of a running component we started (its process group leader), or nothing.
component_pid() {
  local file pid
  file="$(pid_file "$1")"
  [[ -f "$file" ]] || return 0
  pid="$(head -n1 "$file" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  # Alive and still the leader of its own process group (guards against pid reuse).
  if kill -0 "$pid" 2>/dev/null && [[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$pid" ]]; then
    printf '%s' "$pid"
  fi
}

is_running() { [[ -n "$(component_pid "$1")" ]]; }

fail_component() { # fail_component NAME MESSAGE
  local logf
  logf="$(log_file "$1")"
  printf '[stack] ERROR: %s: %s\n' "$1" "$2" >&2
  if [[ -s "$logf" ]]; then
    printf '[stack] --- last lines of %s ---\n' "$logf" >&2
    tail -n 40 "$logf" >&2 || true
    printf '[stack] ---\n' >&2
  fi
  log "components already started keep running; stop them with: infra/stack.sh down"
  exit 1
}

# start_bg NAME URL COMMAND...: run COMMAND in its own session/process group from the
# repository root, output to .local/NAME.log; .local/NAME.pid holds the pid (= process
# group id) and the URL it serves.
start_bg() {
  local name=$1 url=$2 logf
  shift 2
  logf="$(log_file "$name")"
  if [[ -f "$logf" ]]; then mv -f "$logf" "$logf.prev"; fi
  printf '[stack] %s: %s\n' "$(date '+%F %T')" "$*" >"$logf"
  (cd "$ROOT" && exec setsid "$@" >>"$logf" 2>&1 </dev/null) &
  printf '%s\n%s\n' "$!" "$url" >"$(pid_file "$name")"
  # setsid only forks when the caller leads a process group; the subshell does not,
  # so $! is the new session and process group leader.
}

# already_running NAME URL: true if NAME runs at URL; fails if it runs elsewhere.
already_running() {
  local pid recorded
  pid="$(component_pid "$1")"
  [[ -n "$pid" ]] || return 1
  recorded="$(sed -n 2p "$(pid_file "$1")" 2>/dev/null || true)"
  if [[ -n "$recorded" && "$recorded" != "$2" ]]; then
    die "$1 already runs (pid $pid) for ${recorded:-another address}, not $2: run 'infra/stack.sh down' first"
  fi
  log "$1: already running (pid $pid) at $2"
}

port_answers() { # port_answers URL: does anything listen there?
  local rc=0
  curl -s -o /dev/null --max-time 2 "$1" || rc=$?
  [[ $rc -ne 7 ]]
}

ensure_port_free() { # ensure_port_free NAME URL
  if port_answers "$2"; then
    die "$1: something that this script did not start already listens at $2 (set another port or stop it)"
  fi
}

env_value() { # env_value KEY: value from .local/env (one pair of quotes stripped)
  local line value
  line="$(grep -m1 "^$1=" "$ENV_FILE" 2>/dev/null || true)"
  value="${line#*=}"
  if [[ "$value" == \'*\' || "$value" == \"*\" ]]; then value="${value:1:${#value}-2}"; fi
  printf '%s' "$value"
}

check_tools() {
  command -v curl >/dev/null || die "curl is required"
  command -v setsid >/dev/null || die "setsid (util-linux) is required"
  if wants moto || wants poller || wants webhooks || wants streams; then
    "$PYTHON" -c 'import boto3, yaml' 2>/dev/null \
      || die "Python packages missing: run '$PYTHON -m pip install -r infra/requirements.txt'"
  fi
  if wants moto; then
    command -v moto_server >/dev/null \
      || die "moto_server not found: run '$PYTHON -m pip install -r infra/requirements.txt'"
  fi
  if wants sim; then
    [[ -x "$SR_SIM_BIN" ]] || die "$SR_SIM_BIN not found: run 'cargo build --workspace' first"
  fi
  if wants idp; then
    [[ -d "$ROOT/infra/oidc-provider/node_modules/oidc-provider" ]] \
      || die "the local IdP is not installed: run 'make setup' (npm ci --prefix infra/oidc-provider)"
  fi
  if wants lambda; then
    cargo lambda --version >/dev/null 2>&1 \
      || die "cargo lambda not found: run '$PYTHON -m pip install -r infra/requirements.txt'"
  fi
}

# ------------------------------------------------------------------ components
up_moto() {
  if ! already_running moto "$MOTO_URL"; then
    ensure_port_free moto "$MOTO_URL/"
    log "moto: starting at $MOTO_URL"
    # infra/moto_server.py: moto_server with DynamoDB requests serialised (see its docstring),
    # recording the functions' AWS calls for infra/aws_calls.py (IAM of template.yaml).
    : >"$STATE_DIR/aws-calls.jsonl"
    start_bg moto "$MOTO_URL" "$PYTHON" "$ROOT/infra/moto_server.py" -H "$HOST" -p "$MOTO_PORT" \
      --record-calls "$STATE_DIR/aws-calls.jsonl"
    local deadline=$((SECONDS + MOTO_READY_TIMEOUT))
    until port_answers "$MOTO_URL/moto-api/"; do
      is_running moto || fail_component moto "moto server exited"
      ((SECONDS < deadline)) || fail_component moto "no answer at $MOTO_URL after ${MOTO_READY_TIMEOUT}s"
      sleep 0.3
    done
  fi
  log "moto: creating the template resources (infra/local_stack.py)"
  local args=(
    --endpoint "$MOTO_URL" --stack-name "$STACK_NAME" --template "$ROOT/template.yaml"
    --out "$ENV_FILE"
    --partner-client-id "$PARTNER_CLIENT_ID" --partner-client-secret "$PARTNER_CLIENT_SECRET"
    --parameter "LogLevel=$LOCAL_LOG_LEVEL"
    --set "SR_API_BASE_URL=$SR_SIM_URL/assessment-api/v202010"
    --set "SR_TOKEN_URL=$SR_SIM_URL/identity/oauth/token"
    --set "SR_CUSTOMER_API_BASE_URL=$SR_SIM_URL"
    --set "ALLOW_INSECURE_SR_URLS=true"
    # The publisher may download result files (data_url) from the simulator / 127.0.0.1.
    --set "ALLOW_PRIVATE_ATTACHMENT_URLS=true"
    # A local webhook receiver is plain http on loopback.
    --set "ALLOW_INSECURE_WEBHOOK_URL=true"
    --set "BACKOFF_BASE_MS=${LOCAL_BACKOFF_BASE_MS:-200}"
    --set "BACKOFF_CAP_MS=${LOCAL_BACKOFF_CAP_MS:-2000}"
    --set "MAX_RECEIVE_COUNT=20"
    # Consent redirects back to the simulator / local pages are allowed locally.
    --set "CONSENT_REDIRECT_HOSTS=$LOCAL_CONSENT_REDIRECT_HOSTS"
    # A value with a space: local_stack.py quotes it for cargo lambda's env-file parser.
    --set "VENDOR_NAME=$LOCAL_VENDOR_NAME"
    # Consent sign-in against the local IdP (component idp); http issuer allowed locally.
    --set "CONSENT_SIGN_IN=$LOCAL_CONSENT_SIGN_IN"
    --set "OIDC_ISSUER_URL=$IDP_URL"
    --set "OIDC_CLIENT_ID=connector-local"
    --set "OIDC_SCOPES=email organisations"
    --set "OIDC_REQUIRE_MFA=$LOCAL_OIDC_REQUIRE_MFA"
    --set "OIDC_ACR_VALUES=urn:acme:mfa"
    --set "OIDC_REDIRECT_URL=$CONSENT_CALLBACK_URL"
    --parameter "ConsentSignIn=$LOCAL_CONSENT_SIGN_IN"
    --secret-value "OidcClientSecret=$LOCAL_IDP_CLIENT_SECRET"
  )
  if [[ -n "$VENDOR_API_KEY" ]]; then args+=(--vendor-api-key "$VENDOR_API_KEY"); fi
  if [[ -n "$LOCAL_WEBHOOK_URL" ]]; then args+=(--set "WEBHOOK_URL=$LOCAL_WEBHOOK_URL"); fi
  if [[ -n "$LOCAL_WEBHOOK_FORMAT" ]]; then args+=(--set "WEBHOOK_FORMAT=$LOCAL_WEBHOOK_FORMAT"); fi
  if ! "$PYTHON" "$ROOT/infra/local_stack.py" "${args[@]}" >>"$(log_file local_stack)" 2>&1; then
    fail_component local_stack "infra/local_stack.py failed"
  fi
}

up_sim() {
  if already_running sim "$SR_SIM_URL"; then return; fi
  ensure_port_free sim "$SR_SIM_URL/"
  log "sim: starting $SR_SIM_BIN at $SR_SIM_URL"
  start_bg sim "$SR_SIM_URL" "$SR_SIM_BIN" --listen "$HOST:$SR_SIM_PORT" \
    --master-client-id "$PARTNER_CLIENT_ID" --master-client-secret "$PARTNER_CLIENT_SECRET"
  local deadline=$((SECONDS + SIM_READY_TIMEOUT)) code
  while :; do
    grep -q 'sr-simulator listening on' "$(log_file sim)" 2>/dev/null && break
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$SR_SIM_URL/__sim/state" || true)"
    [[ "$code" == 200 ]] && break
    is_running sim || fail_component sim "sr-simulator exited"
    ((SECONDS < deadline)) || fail_component sim "not ready after ${SIM_READY_TIMEOUT}s"
    sleep 0.3
  done
}

up_idp() {
  if already_running idp "$IDP_URL"; then return; fi
  ensure_port_free idp "$IDP_URL/"
  log "idp: starting the local OpenID provider at $IDP_URL"
  export IDP_CLIENT_SECRET="$LOCAL_IDP_CLIENT_SECRET"
  start_bg idp "$IDP_URL" node "$ROOT/infra/oidc-provider/server.mjs" \
    --host "$HOST" --port "$IDP_PORT" --redirect-uri "$CONSENT_CALLBACK_URL"
  local deadline=$((SECONDS + SIM_READY_TIMEOUT))
  until port_answers "$IDP_URL/.well-known/openid-configuration"; do
    is_running idp || fail_component idp "the OpenID provider exited"
    ((SECONDS < deadline)) || fail_component idp "not ready after ${SIM_READY_TIMEOUT}s"
    sleep 0.3
  done
}

up_lambda() {
  [[ -f "$ENV_FILE" ]] || die "lambda: $ENV_FILE is missing (start the moto component first)"
  if already_running lambda "$LAMBDA_URL"; then return; fi
  ensure_port_free lambda "$LAMBDA_URL/"
  log "lambda: starting cargo lambda watch at $LAMBDA_URL"
  local extra=()
  read -r -a extra <<<"$CARGO_LAMBDA_WATCH_ARGS"
  # --concurrency 2: two instances per function, as the publisher's MaximumConcurrency, so the
  # two poller workers really run in parallel (cargo lambda's default is one at a time).
  start_bg lambda "$LAMBDA_URL" cargo lambda watch --invoke-address "$HOST" --invoke-port "$LAMBDA_PORT" \
    --concurrency 2 --env-file "$ENV_FILE" ${extra[@]+"${extra[@]}"}
  # cargo lambda starts the runtime API at once and compiles/starts a function on its
  # first invocation. An answer from list-packages (401 without a token) means the
  # server and the function work; only "connection refused" is retried.
  local url="$LAMBDA_INVOKE_URL_PREFIX/list-packages/packages"
  local deadline=$((SECONDS + LAMBDA_READY_TIMEOUT)) code rc remaining
  log "lambda: waiting for $url (first call starts the function; up to ${LAMBDA_READY_TIMEOUT}s)"
  while :; do
    is_running lambda || fail_component lambda "cargo lambda watch exited"
    remaining=$((deadline - SECONDS))
    ((remaining > 0)) || fail_component lambda "no answer from $url after ${LAMBDA_READY_TIMEOUT}s"
    rc=0
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time "$remaining" "$url")" || rc=$?
    case "$rc" in
      0) break ;;
      7 | 52 | 56) sleep 0.5 ;; # refused / empty reply / reset while starting
      28) fail_component lambda "no answer from $url after ${LAMBDA_READY_TIMEOUT}s" ;;
      *) fail_component lambda "curl $url failed (curl exit $rc)" ;;
    esac
  done
  if [[ "$code" == 401 ]]; then
    log "lambda: ready (list-packages answered 401 without a token)"
  else
    log "lambda: answering (list-packages answered HTTP $code; 401 was expected, see $(log_file lambda))"
  fi
}

up_poller() {
  [[ -f "$ENV_FILE" ]] || die "poller: $ENV_FILE is missing (start the moto component first)"
  local queue_url function_url
  queue_url="$(env_value RESULTS_QUEUE_URL)"
  [[ -n "$queue_url" ]] || die "poller: RESULTS_QUEUE_URL missing in $ENV_FILE"
  function_url="$LAMBDA_URL/2015-03-31/functions/result-publisher/invocations"
  if already_running poller "$queue_url -> $function_url"; then return; fi
  log "poller: $queue_url -> result-publisher"
  # Batch size and concurrency as ResultPublisherQueueMapping in template.yaml.
  start_bg poller "$queue_url -> $function_url" "$PYTHON" "$ROOT/infra/sqs_poller.py" --endpoint "$MOTO_URL" \
    --queue-url "$queue_url" \
    --function-url "$function_url" \
    --batch-size 10 --max-concurrency 2 --wait 1 \
    --invoke-timeout "${LOCAL_INVOKE_TIMEOUT:-120}"
  local deadline=$((SECONDS + 15))
  until grep -q 'sqs_poller: polling' "$(log_file poller)" 2>/dev/null; do
    is_running poller || fail_component poller "sqs_poller.py exited"
    ((SECONDS < deadline)) || fail_component poller "did not start polling within 15s"
    sleep 0.2
  done
}

# The notifications queue -> webhook-dispatcher, as WebhookDispatcherQueueMapping in template.yaml.
up_webhooks() {
  [[ -f "$ENV_FILE" ]] || die "webhooks: $ENV_FILE is missing (start the moto component first)"
  local queue_url function_url
  queue_url="$(env_value NOTIFICATIONS_QUEUE_URL)"
  [[ -n "$queue_url" ]] || die "webhooks: NOTIFICATIONS_QUEUE_URL missing in $ENV_FILE"
  function_url="$LAMBDA_URL/2015-03-31/functions/webhook-dispatcher/invocations"
  if already_running webhooks "$queue_url -> $function_url"; then return; fi
  log "webhooks: $queue_url -> webhook-dispatcher"
  start_bg webhooks "$queue_url -> $function_url" "$PYTHON" "$ROOT/infra/sqs_poller.py" --endpoint "$MOTO_URL" \
    --queue-url "$queue_url" \
    --function-url "$function_url" \
    --batch-size 10 --max-concurrency 2 --wait 1
  local deadline=$((SECONDS + 15))
  until grep -q 'sqs_poller: polling' "$(log_file webhooks)" 2>/dev/null; do
    is_running webhooks || fail_component webhooks "sqs_poller.py exited"
    ((SECONDS < deadline)) || fail_component webhooks "did not start polling within 15s"
    sleep 0.2
  done
}

# The table's stream -> order-stream, as OrderStreamMapping in template.yaml (stream_poller.py
# reads the mapping's filter, batch size, retries, record age and on-failure queue from it).
up_streams() {
  [[ -f "$ENV_FILE" ]] || die "streams: $ENV_FILE is missing (start the moto component first)"
  local table function_url
  table="$(env_value TABLE_NAME)"
  [[ -n "$table" ]] || die "streams: TABLE_NAME missing in $ENV_FILE"
  function_url="$LAMBDA_URL/2015-03-31/functions/order-stream/invocations"
  if already_running streams "$table -> $function_url"; then return; fi
  log "streams: $table stream -> order-stream"
  start_bg streams "$table -> $function_url" "$PYTHON" "$ROOT/infra/stream_poller.py" --endpoint "$MOTO_URL" \
    --table-name "$table" --stack-name "$STACK_NAME" \
    --template "$ROOT/template.yaml" --mapping OrderStreamMapping \
    --function-url "$function_url" \
    --invoke-timeout "${LOCAL_INVOKE_TIMEOUT:-120}"
  local deadline=$((SECONDS + 15))
  until grep -q 'stream_poller: polling' "$(log_file streams)" 2>/dev/null; do
    is_running streams || fail_component streams "stream_poller.py exited"
    ((SECONDS < deadline)) || fail_component streams "did not start polling within 15s"
    sleep 0.2
  done
}

write_stack_env() {
  local tmp="$STACK_ENV_FILE.tmp"
  {
    echo "MOTO_URL=$MOTO_URL"
    echo "SR_SIM_URL=$SR_SIM_URL"
    echo "LAMBDA_URL=$LAMBDA_URL"
    echo "LAMBDA_INVOKE_URL_PREFIX=$LAMBDA_INVOKE_URL_PREFIX"
    echo "IDP_URL=$IDP_URL"
    if [[ -f "$ENV_FILE" ]]; then cat "$ENV_FILE"; fi
  } >"$tmp"
  chmod 600 "$tmp"
  mv -f "$tmp" "$STACK_ENV_FILE"
}

cmd_up() {
  local c
  for c in ${STACK_COMPONENTS//,/ }; do
    [[ " ${ALL_COMPONENTS[*]} " == *" $c "* ]] || die "unknown component '$c' in STACK_COMPONENTS (known: ${ALL_COMPONENTS[*]})"
  done
  mkdir -p "$STATE_DIR"
  check_tools
  if wants moto; then up_moto; fi
  if wants sim; then up_sim; fi
  if wants idp; then up_idp; fi
  if wants lambda; then up_lambda; fi
  if wants poller; then up_poller; fi
  if wants webhooks; then up_webhooks; fi
  if wants streams; then up_streams; fi
  write_stack_env
  log "up: $STACK_COMPONENTS"
  if wants moto; then echo "MOTO_URL=$MOTO_URL"; fi
  if wants sim; then echo "SR_SIM_URL=$SR_SIM_URL"; fi
  if wants idp; then echo "IDP_URL=$IDP_URL"; fi
  if wants lambda; then
    echo "LAMBDA_URL=$LAMBDA_URL"
    echo "LAMBDA_INVOKE_URL_PREFIX=$LAMBDA_INVOKE_URL_PREFIX"
  fi
  echo "ENV_FILE=$ENV_FILE"
  echo "STACK_ENV_FILE=$STACK_ENV_FILE"
}

descendants() { # all descendant pids of $1, depth first
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null || true); do
    echo "$child"
    descendants "$child"
  done
}

alive_any() { # alive_any PID...: is any of them still running?
  local p
  for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done
  return 1
}

stop_component() {
  local name=$1 pid children deadline
  pid="$(component_pid "$name")"
  if [[ -z "$pid" ]]; then
    rm -f "$(pid_file "$name")"
    return
  fi
  # cargo lambda runs every function (and cargo builds) in a process group of its
  # own: remember all descendants before the leader goes away.
  mapfile -t children < <(descendants "$pid")
  log "$name: stopping (pid $pid${children[*]:+, children ${children[*]}})"
  kill -TERM -- "-$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while alive_any "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  # Children left behind (normally cargo lambda ends them itself on SIGTERM).
  if ((${#children[@]})) && alive_any "${children[@]}"; then
    kill -TERM "${children[@]}" 2>/dev/null || true
    while alive_any "${children[@]}" && ((SECONDS < deadline + 5)); do sleep 0.2; done
  fi
  if alive_any "$pid" ${children[@]+"${children[@]}"}; then
    log "$name: did not stop in time, killing"
    kill -KILL -- "-$pid" 2>/dev/null || true
    if ((${#children[@]})); then kill -KILL "${children[@]}" 2>/dev/null || true; fi
  fi
  rm -f "$(pid_file "$name")"
}

cmd_down() {
  local c
  for c in streams webhooks poller lambda idp sim moto; do stop_component "$c"; done
  rm -f "$STACK_ENV_FILE"
  log "down"
}

cmd_status() {
  local c pid all_up=0 url
  for c in "${ALL_COMPONENTS[@]}"; do
    pid="$(component_pid "$c")"
    if [[ -n "$pid" ]]; then
      url="$(sed -n 2p "$(pid_file "$c")" 2>/dev/null || true)"
      printf '%-7s running  pid %-7s %s\n' "$c" "$pid" "$url"
    else
      printf '%-7s stopped\n' "$c"
      wants "$c" && all_up=1
    fi
  done
  if [[ -f "$STACK_ENV_FILE" ]]; then echo "env: $STACK_ENV_FILE"; fi
  return "$all_up"
}

cmd_logs() {
  local name=${1:-}
  if [[ -z "$name" ]]; then
    for name in "${ALL_COMPONENTS[@]}" local_stack; do
      [[ -f "$(log_file "$name")" ]] || continue
      printf '==> %s <==\n' "$(log_file "$name")"
      tail -n 20 "$(log_file "$name")"
    done
  else
    [[ -f "$(log_file "$name")" ]] || die "no log for '$name' in $STATE_DIR"
    tail -n 100 "$(log_file "$name")"
  fi
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

main() {
  case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    logs) shift; cmd_logs "${1:-}" ;;
    -h | --help | help | "") usage ;;
    *) printf '[stack] unknown command: %s\n' "$1" >&2; usage ;;
  esac
}

main "$@"
