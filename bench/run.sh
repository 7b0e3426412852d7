#!/usr/bin/env bash
# The load benchmark of issue 3: complyd against the floor (bare hyper, canned response of the same
# size), each workload run A B A B with wrk, 32 connections, a valid bearer token.
#
#   bench/run.sh                                         # the full run: 1,000,000 statuses, 3 x 10 s
#   BENCH_STATUSES=100000 BENCH_DURATION=3s bench/run.sh # a quick run
#
# Overrides: BENCH_STATUSES (1000000), BENCH_DURATION (10s), BENCH_ROUNDS (3),
# BENCH_WORKLOADS ("W1 W2 W3 W4 W5"), BENCH_COLD_RUNS (7), BENCH_ID_SAMPLE (100000 ids for reads),
# BENCH_SEED_CONNECTIONS (48), BENCH_JWT_SECRET.
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
CACHE=$BENCH/.cache/seed-$STATUSES
WORK=$BENCH/.work
RESULTS=$BENCH/results
LUA=$BENCH/lua/bench.lua
POLICIES_PATH=deviceManagement/deviceCompliancePolicies
# W4's query: the first page of one policy's nonCompliant statuses.
W4_QUERY='%24filter=status%20eq%20%27nonCompliant%27&%24top=100'

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

token() { "$BIN/complyd" token --data "$1" --jwt-secret "$SECRET" --lifetime 86400; }

# --- seed (cached) ------------------------------------------------------------------------------
if [ ! -f "$CACHE/done" ]; then
  log "seeding $STATUSES statuses over $POLICIES policies through the API (cached in $CACHE)"
  rm -rf "$CACHE" && mkdir -p "$CACHE"
  start seeding "$BIN/complyd" serve --listen 127.0.0.1:0 --data "$CACHE/data" --jwt-secret "$SECRET"
  "$BIN/seed" --url "$URL" --token "$(token "$CACHE/data")" --statuses "$STATUSES" \
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
  --token "$(token "$CACHE/data")" --path "/beta/$POLICIES_PATH/$P0/deviceStatuses/$S0" --runs 1 >/dev/null
log "copying the data folder"
cp -a "$CACHE/data" "$WORK/data"
# Write the copy out now: left dirty, its gigabyte would be flushed by the first fsyncs of W1.
sync
TOKEN=$(token "$WORK/data")
SEEDED_BYTES=$(du -sb "$WORK/data" | cut -f1)

# --- request lists ------------------------------------------------------------------------------
read -r P0 R0 <"$CACHE/rule.txt"
echo "/v1.0/$POLICIES_PATH/$P0/scheduledActionsForRule/$R0/scheduledActionConfigurations" >"$WORK/w1.paths"
sed "s|.*|/beta/$POLICIES_PATH/&/deviceStatuses|" "$CACHE/policies.txt" >"$WORK/w2.paths"
shuf -n "$ID_SAMPLE" --random-source=<(yes) "$CACHE/ids.txt" |
  awk -v p="/beta/$POLICIES_PATH" '{ print p "/" $1 "/deviceStatuses/" $2 }' >"$WORK/w3.paths"
sed "s|.*|/beta/$POLICIES_PATH/&/deviceStatuses?${W4_QUERY//&/\\&}|" "$CACHE/policies.txt" >"$WORK/w4.paths"
# W0 (a diagnostic for bench/cost.sh): W3's requests with an unknown query option, refused with 400
# before the store.
# shellcheck disable=SC2016 # the second $ is the option's own, not an expansion
sed 's/$/?$unknownOption=1/' "$WORK/w3.paths" >"$WORK/w0.paths"

# --- cold start ---------------------------------------------------------------------------------
log "cold start: $COLD_RUNS runs"
"$BIN/coldstart" --complyd "$BIN/complyd" --data "$WORK/data" --jwt-secret "$SECRET" \
  --token "$TOKEN" --path "$(head -n1 "$WORK/w3.paths")" --runs "$COLD_RUNS" >"$WORK/coldstart.json"

# --- complyd, and one response of each kind for the floor ---------------------------------------
start complyd "$BIN/complyd" serve --listen 127.0.0.1:0 --data "$WORK/data" --jwt-secret "$SECRET"
COMPLYD_PID=$PID COMPLYD_URL=$URL
capture() { # NAME EXPECTED METHOD PATH [BODYFILE]
  local code args=(-s -o "$WORK/$1.response" -w '%{http_code}' -X "$3" -H "Authorization: Bearer $TOKEN")
  [ $# -ge 5 ] && args+=(-H 'Content-Type: application/json' --data-binary "@$5")
  code=$(curl "${args[@]}" "$COMPLYD_URL$4")
  [ "$code" = "$2" ] || { echo "$1: $3 $4 answered $code, expected $2: $(cat "$WORK/$1.response")" >&2; return 1; }
}
capture w1 201 POST "$(head -n1 "$WORK/w1.paths")" "$W1_BODY"
capture w2 201 POST "$(head -n1 "$WORK/w2.paths")" "$W2_BODY"
capture w3 200 GET "$(head -n1 "$WORK/w3.paths")"
capture w4 200 GET "$(head -n1 "$WORK/w4.paths")"
capture w0 400 GET "$(head -n1 "$WORK/w0.paths")"

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
FINAL_BYTES=$(du -sb "$WORK/data" | cut -f1)
python3 "$BENCH/report.py" --runs "$WORK/runs.jsonl" --coldstart "$WORK/coldstart.json" \
  --peak-rss-kib "$HWM_KB" --seeded-bytes "$SEEDED_BYTES" --final-bytes "$FINAL_BYTES" \
  --statuses "$STATUSES" --duration "$DURATION" --rounds "$ROUNDS" --connections "$CONNECTIONS" \
  --threads "$THREADS" --w4-query "$W4_QUERY" \
  --response-bytes "w1=$(stat -c%s "$WORK/w1.response"),w2=$(stat -c%s "$WORK/w2.response"),w3=$(stat -c%s "$WORK/w3.response"),w4=$(stat -c%s "$WORK/w4.response")" \
  --out "$RESULTS/latest.json"
