# shellcheck shell=bash
# shellcheck disable=SC2034 # BIN, SECRET and what workload() sets are read by the scripts that source this
# Shared by bench/run.sh and bench/cost.sh (sourced): their common settings, the processes they
# start, and what each workload sends. Expects ROOT (the repository), WORK (the run's request lists
# and captured responses) and LOGS (where servers' output goes).

BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
SECRET=${BENCH_JWT_SECRET:-complyd-bench-secret-0123456789abcdef0123456789}
FIXTURES=$ROOT/crates/complyd/tests/api/fixtures
W1_BODY=$FIXTURES/seed000_action_item.request.json
W2_BODY=$FIXTURES/seed001_device_status.request.json

log() { printf '== %s\n' "$*" >&2; }

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
start() {
  local name=$1 out=$LOGS/$1.out; shift
  : >"$out"
  "$@" >"$out" 2>/dev/null &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 300); do
    URL=$(sed -n 's/^listening on //p' "$out" | head -n1)
    [ -n "$URL" ] && return 0
    kill -0 "$PID" 2>/dev/null || { echo "$name exited before listening" >&2; return 1; }
    sleep 0.1
  done
  echo "$name did not print its address within 30 s" >&2
  return 1
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
