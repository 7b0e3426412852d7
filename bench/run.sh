#!/usr/bin/env bash
# The load benchmark of issue 3: complyd against the floor (bare hyper, canned response of the same
# size), each workload run A B A B with wrk, 32 connections, a valid bearer token. Issue 22's peer
# runs as a third server in each round (A B C): Prism, the npm mock server, serving complyd's own
# OpenAPI description of the same Graph slice (bench/prism/README.md).
#
#   bench/run.sh                                         # the full run: 1,000,000 statuses, 3 x 10 s
#   BENCH_STATUSES=100000 BENCH_DURATION=3s bench/run.sh # a quick run
#
# Overrides: BENCH_STATUSES (1000000), BENCH_DURATION (10s), BENCH_ROUNDS (3),
# BENCH_WORKLOADS ("W1 W2 W3 W4 W5"), BENCH_COLD_RUNS (7), BENCH_ID_SAMPLE (100000 ids for reads),
# BENCH_SEED_CONNECTIONS (48), BENCH_JWT_SECRET, BENCH_PEERS ("prism", or "" to run without the
# peer; Prism needs node and npm), BENCH_OUT (bench/results/latest.json).
# The seeded data folder is cached in bench/.cache/seed-N and copied for each run; delete it to reseed.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/bench

STATUSES=${BENCH_STATUSES:-1000000}
POLICIES=100
DURATION=${BENCH_DURATION:-10s}
ROUNDS=${BENCH_ROUNDS:-3}
CONNECTIONS=32
THREADS=2
WORKLOADS=${BENCH_WORKLOADS:-W1 W2 W3 W4 W5}
COLD_RUNS=${BENCH_COLD_RUNS:-7}
ID_SAMPLE=${BENCH_ID_SAMPLE:-100000}
SEED_CONNECTIONS=${BENCH_SEED_CONNECTIONS:-48}
PEERS=${BENCH_PEERS-prism}
OUT=${BENCH_OUT:-$BENCH/results/latest.json}
CACHE=$BENCH/.cache/seed-$STATUSES
WORK=$BENCH/.work
RESULTS=$BENCH/results
LUA=$BENCH/lua/bench.lua

LOGS=$WORK
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"

# --- build and tools ----------------------------------------------------------------------------
log "building (release)"
cargo build --release -p complyd -p floor
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update && $SUDO apt-get install -y wrk
fi
rm -rf "$WORK" && mkdir -p "$WORK" "$RESULTS"
PRISM_URL=
if [ "$PEERS" = prism ]; then
  log "installing Prism (npm ci, pinned in bench/prism/package-lock.json)"
  [ "$BENCH/prism/node_modules/.package-lock.json" -nt "$BENCH/prism/package-lock.json" ] ||
    (cd "$BENCH/prism" && npm ci --no-audit --no-fund --loglevel=error)
elif [ -n "$PEERS" ]; then
  echo "BENCH_PEERS: unknown peer '$PEERS' (prism, or empty for none)" >&2
  exit 2
fi

# --- seed (cached) ------------------------------------------------------------------------------
if [ ! -f "$CACHE/done" ]; then
  log "seeding $STATUSES statuses over $POLICIES policies through the API (cached in $CACHE)"
  rm -rf "$CACHE" && mkdir -p "$CACHE"
  start seeding "$BIN/complyd" serve --listen 127.0.0.1:0 --data "$CACHE/data" --jwt-secret "$SECRET"
  "$BIN/seed" --url "$URL" --token "$(token --data "$CACHE/data")" --statuses "$STATUSES" \
    --policies "$POLICIES" --connections "$SEED_CONNECTIONS" \
    --body "$W2_BODY" --out "$CACHE"
  stop "$PID"
  touch "$CACHE/done"
else
  log "reusing seeded data in $CACHE"
fi
# Open the cache once with this build so that pending schema migrations are applied to it, not
# to every copy (they would otherwise land in the first cold-start run).
read -r P0 S0 < <(head -n1 "$CACHE/ids.txt")
"$BIN/coldstart" --complyd "$BIN/complyd" --data "$CACHE/data" --jwt-secret "$SECRET" \
  --token "$(token --data "$CACHE/data")" --path "/beta/$POLICIES_PATH/$P0/deviceStatuses/$S0" --runs 1 >/dev/null
log "copying the data folder"
cp -a "$CACHE/data" "$WORK/data"
# Write the copy out now: left dirty, its gigabyte would be flushed by the first fsyncs of W1.
sync
TOKEN=$(token --data "$WORK/data")
SEEDED_BYTES=$(du -sb "$WORK/data" | cut -f1)

# --- request lists ------------------------------------------------------------------------------
request_lists "$CACHE" "$ID_SAMPLE"

# --- cold start ---------------------------------------------------------------------------------
log "cold start: $COLD_RUNS runs"
"$BIN/coldstart" --complyd "$BIN/complyd" --data "$WORK/data" --jwt-secret "$SECRET" \
  --token "$TOKEN" --path "$(head -n1 "$WORK/w3.paths")" --runs "$COLD_RUNS" >"$WORK/coldstart.json"

# --- complyd, and one response of each kind for the floor ---------------------------------------
start complyd "$BIN/complyd" serve --listen 127.0.0.1:0 --data "$WORK/data" --jwt-secret "$SECRET"
COMPLYD_PID=$PID COMPLYD_URL=$URL
capture "$COMPLYD_URL" w1 201 POST "$(head -n1 "$WORK/w1.paths")" "$W1_BODY"
capture "$COMPLYD_URL" w2 201 POST "$(head -n1 "$WORK/w2.paths")" "$W2_BODY"
capture "$COMPLYD_URL" w3 200 GET "$(head -n1 "$WORK/w3.paths")"
capture "$COMPLYD_URL" w4 200 GET "$(head -n1 "$WORK/w4.paths")"
capture "$COMPLYD_URL" w0 400 GET "$(head -n1 "$WORK/w0.paths")"

# start_prism SPEC : Prism's mock server (static answers from the description's examples and
# schemas) on a free port; sets PID and URL. It logs each request at its default level, to
# /dev/null as complyd's log lines go, and prints nothing at all that says where it listens.
start_prism() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$BENCH/prism/node_modules/.bin/prism" mock -h 127.0.0.1 -p "$port" "$1" >/dev/null 2>&1 &
  PID=$!
  PIDS+=("$PID")
  URL=http://127.0.0.1:$port
  for _ in $(seq 600); do
    curl -s -o /dev/null "$URL/" && return 0
    kill -0 "$PID" 2>/dev/null || { echo "Prism exited before listening" >&2; return 1; }
    sleep 0.1
  done
  echo "Prism did not listen within 60 s" >&2
  return 1
}

# --- the peer: Prism mocking complyd's own OpenAPI description (see bench/prism/README.md) -------
if [ "$PEERS" = prism ]; then
  log "Prism $(jq -r '.packages["node_modules/@stoplight/prism-cli"].version' "$BENCH/prism/package-lock.json"), serving complyd's GET /openapi.json"
  curl -sf "$COMPLYD_URL/openapi.json" >"$WORK/openapi.json"
  start_prism "$WORK/openapi.json"
  PRISM_PID=$PID PRISM_URL=$URL
  # Prism must answer each workload's requests as it would a client's (2xx), or it is no peer.
  capture "$PRISM_URL" prism-w1 201 POST "$(head -n1 "$WORK/w1.paths")" "$W1_BODY"
  capture "$PRISM_URL" prism-w2 201 POST "$(head -n1 "$WORK/w2.paths")" "$W2_BODY"
  capture "$PRISM_URL" prism-w3 200 GET "$(head -n1 "$WORK/w3.paths")"
  capture "$PRISM_URL" prism-w4 200 GET "$(head -n1 "$WORK/w4.paths")"
fi

# --- workloads, A B A B -------------------------------------------------------------------------
: >"$WORK/runs.jsonl"
run_wrk() { # WORKLOAD SERVER ROUND URL GETS POSTS BODY WRITE_PCT
  local out=$WORK/wrk-$1-$2-$3.txt line
  BENCH_GET_PATHS=$5 BENCH_POST_PATHS=$6 BENCH_POST_BODY=$7 BENCH_WRITE_PCT=$8 \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s --latency -s "$LUA" \
    -H "Authorization: Bearer $TOKEN" "$4/" >"$out"
  line=$(sed -n 's/^BENCHJSON //p' "$out")
  [ -n "$line" ] || { echo "wrk printed no summary, see $out" >&2; return 1; }
  printf '{"workload":"%s","server":"%s","round":%s,"wrk":%s}\n' "$1" "$2" "$3" "$line" >>"$WORK/runs.jsonl"
  printf '   %-3s %-7s round %s: %s\n' "$1" "$2" "$3" "$(grep -E 'Requests/sec|Non-2xx' "$out" | tr -s ' ' | paste -sd' ')" >&2
}
for w in $WORKLOADS; do
  workload "$w" || exit 2
  log "$w"
  start floor "$BIN/floor" --listen 127.0.0.1:0 "${floor_args[@]}"
  FLOOR_PID=$PID FLOOR_URL=$URL
  for round in $(seq "$ROUNDS"); do
    run_wrk "$w" complyd "$round" "$COMPLYD_URL" "$gets" "$posts" "$body" "$pct"
    run_wrk "$w" floor "$round" "$FLOOR_URL" "$gets" "$posts" "$body" "$pct"
    [ -z "$PRISM_URL" ] || run_wrk "$w" prism "$round" "$PRISM_URL" "$gets" "$posts" "$body" "$pct"
  done
  stop "$FLOOR_PID"
done

# --- issue 5's walk: every page of one policy's statuses with $top=999 ----------------------------
log "walk: every status of one policy, \$top=999"
read -r WALK_POLICY _ < <(head -n1 "$CACHE/ids.txt")
python3 "$BENCH/walk.py" "$COMPLYD_URL" "$TOKEN" "$WALK_POLICY" 5 | tee "$WORK/walk.json" >&2

# --- peak RSS and data size, then the report ----------------------------------------------------
HWM_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$COMPLYD_PID/status")
stop "$COMPLYD_PID"
PEER_ARGS=()
if [ -n "$PRISM_URL" ]; then
  PEER_ARGS=(--prism-peak-rss-kib "$(awk '/^VmHWM:/ { print $2 }' "/proc/$PRISM_PID/status")"
    --prism-version "$(jq -r '.packages["node_modules/@stoplight/prism-cli"].version' "$BENCH/prism/package-lock.json")")
  stop "$PRISM_PID"
fi
FINAL_BYTES=$(du -sb "$WORK/data" | cut -f1)
python3 "$BENCH/report.py" --runs "$WORK/runs.jsonl" --coldstart "$WORK/coldstart.json" \
  --peak-rss-kib "$HWM_KB" --seeded-bytes "$SEEDED_BYTES" --final-bytes "$FINAL_BYTES" \
  --statuses "$STATUSES" --duration "$DURATION" --rounds "$ROUNDS" --connections "$CONNECTIONS" \
  --threads "$THREADS" --w4-query "$W4_QUERY" \
  --response-bytes "w1=$(stat -c%s "$WORK/w1.response"),w2=$(stat -c%s "$WORK/w2.response"),w3=$(stat -c%s "$WORK/w3.response"),w4=$(stat -c%s "$WORK/w4.response")" \
  "${PEER_ARGS[@]}" --out "$OUT"
