# shellcheck shell=bash
# shellcheck disable=SC2034 # BIN, SECRET and what workload() sets are read by the scripts that source this
# Shared by bench/run.sh, bench/cost.sh and bench/postgres.sh (sourced): their common settings, the
# processes they start, and what each workload sends. Expects ROOT (the repository), WORK (the run's
# request lists and captured responses) and LOGS (where servers' output goes).

BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
SECRET=${BENCH_JWT_SECRET:-complyd-bench-secret-0123456789abcdef0123456789}
FIXTURES=$ROOT/crates/complyd/tests/api/fixtures
W1_BODY=$FIXTURES/seed000_action_item.request.json
W2_BODY=$FIXTURES/seed001_device_status.request.json
POLICIES_PATH=deviceManagement/deviceCompliancePolicies
# W4's query: the first page of one policy's nonCompliant statuses.
W4_QUERY='%24filter=status%20eq%20%27nonCompliant%27&%24top=100'

log() { printf '== %s\n' "$*" >&2; }

# token STORE-ARGS... : a day-long token for the default tenant (`--data DIR` or `--store URL`).
token() { "$BIN/complyd" token "$@" --jwt-secret "$SECRET" --lifetime 86400; }

# --- processes: every one started here is tracked by pid and stopped by pid -----------------------
PIDS=()
forget() { local keep=() p; for p in "${PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done; PIDS=("${keep[@]}"); }
stop() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget "$1"
}
cleanup() { local p; for p in "${PIDS[@]}"; do stop "$p"; done; }
trap cleanup EXIT

# start NAME CMD... : runs CMD in the background, waits for `listening on URL`; sets PID and URL.
# Up to 30 minutes: a data folder from an older complyd is migrated before it listens (filling
# the slot columns takes about a minute for 100,000 statuses, over ten for 1,000,000).
start() {
  local name=$1 out=$LOGS/$1.out; shift
  : >"$out"
  "$@" >"$out" 2>/dev/null &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 18000); do
    URL=$(sed -n 's/^listening on //p' "$out" | head -n1)
    [ -n "$URL" ] && return 0
    kill -0 "$PID" 2>/dev/null || { echo "$name exited before listening" >&2; return 1; }
    sleep 0.1
  done
  echo "$name did not print its address within 30 minutes" >&2
  return 1
}

# request_lists SEEDED SAMPLE : writes WORK/w0.paths … w4.paths from what bench/floor's seed wrote
# into SEEDED (policies.txt, rule.txt, ids.txt); W3 and W5 read a random sample of SAMPLE ids.
request_lists() {
  local policy rule
  read -r policy rule <"$1/rule.txt"
  echo "/v1.0/$POLICIES_PATH/$policy/scheduledActionsForRule/$rule/scheduledActionConfigurations" >"$WORK/w1.paths"
  sed "s|.*|/beta/$POLICIES_PATH/&/deviceStatuses|" "$1/policies.txt" >"$WORK/w2.paths"
  shuf -n "$2" --random-source=<(yes) "$1/ids.txt" |
    awk -v p="/beta/$POLICIES_PATH" '{ print p "/" $1 "/deviceStatuses/" $2 }' >"$WORK/w3.paths"
  sed "s|.*|/beta/$POLICIES_PATH/&/deviceStatuses?${W4_QUERY//&/\\&}|" "$1/policies.txt" >"$WORK/w4.paths"
  # W0 (a diagnostic for bench/cost.sh): W3's requests with an unknown query option, refused with
  # 400 before the store.
  # shellcheck disable=SC2016 # the second $ is the option's own, not an expansion
  sed 's/$/?$unknownOption=1/' "$WORK/w3.paths" >"$WORK/w0.paths"
}

# capture BASE NAME EXPECTED METHOD PATH [BODYFILE] : sends one request to BASE (as TOKEN), keeps
# the answer in WORK/NAME.response and fails unless its status is EXPECTED.
capture() {
  local code args=(-s -o "$WORK/$2.response" -w '%{http_code}' -X "$4" -H "Authorization: Bearer $TOKEN")
  [ $# -ge 6 ] && args+=(-H 'Content-Type: application/json' --data-binary "@$6")
  code=$(curl "${args[@]}" "$1$5")
  [ "$code" = "$3" ] || { echo "$2: $4 $5 answered $code, expected $3: $(head -c 600 "$WORK/$2.response")" >&2; return 1; }
}

# workload W : sets gets, posts, body and pct (what wrk's bench.lua sends) and floor_args (the
# floor's canned answers) for workload W. W0 is bench/cost.sh's diagnostic, not a workload of
# issue 3: W3's requests refused with 400 before the store.
workload() {
  case $1 in
    W0) gets=$WORK/w0.paths posts='' body='' pct=0 floor_args=(--response-file "$WORK/w0.response") ;;
    W1) gets='' posts=$WORK/w1.paths body=$W1_BODY pct=100 floor_args=(--response-file "$WORK/w1.response") ;;
    W2) gets='' posts=$WORK/w2.paths body=$W2_BODY pct=100 floor_args=(--response-file "$WORK/w2.response") ;;
    W3) gets=$WORK/w3.paths posts='' body='' pct=0 floor_args=(--response-file "$WORK/w3.response") ;;
    W4) gets=$WORK/w4.paths posts='' body='' pct=0 floor_args=(--response-file "$WORK/w4.response") ;;
    W5) gets=$WORK/w3.paths posts=$WORK/w2.paths body=$W2_BODY pct=20
        floor_args=(--response-file "$WORK/w3.response" --post-response-file "$WORK/w2.response") ;;
    *) echo "unknown workload $1" >&2; return 2 ;;
  esac
}
