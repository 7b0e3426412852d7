#!/usr/bin/env bash
# Issue 22's PostgreSQL figures: W1–W5 against one complyd instance and against two instances
# sharing one local PostgreSQL (a throwaway cluster from scripts/pg.sh, in bench/.work-pg), and the
# requests/s two instances reach over one.
#
#   bench/postgres.sh                                        # 100,000 statuses, 2 x 5 s per setup
#   BENCH_STATUSES=1000000 BENCH_DURATION=10s BENCH_ROUNDS=3 bench/postgres.sh
#
# Both instances run for the whole benchmark (the second idles while the first is measured alone).
# Each round runs, per workload: "one" — one wrk (-t2 -c32) against instance A; then "two" — two
# wrk processes at once (-t1 -c16 each) against A and B, the same 32 connections and 2 client
# threads split over the two instances. Two's requests/s is the sum of both; its p50 and p99 are
# the worse of the two wrk processes'. Before each wrk run the script waits until the database has
# been idle for a moment (settle), so that writes still queued from the run before do not count in
# the next; the wait goes into the results (settled_s). The ratio is the median over rounds of two / one, each
# "one" round paired with the "two" round right after it.
# Overrides: BENCH_STATUSES (100000), BENCH_DURATION (5s), BENCH_ROUNDS (2), BENCH_WORKLOADS
# ("W1 W2 W3 W4 W5"), BENCH_ID_SAMPLE (100000), BENCH_SEED_CONNECTIONS (48), BENCH_JWT_SECRET,
# BENCH_OUT (bench/results/postgres.json). Needs PostgreSQL's server binaries.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/bench

STATUSES=${BENCH_STATUSES:-100000}
POLICIES=100
DURATION=${BENCH_DURATION:-5s}
ROUNDS=${BENCH_ROUNDS:-2}
WORKLOADS=${BENCH_WORKLOADS:-W1 W2 W3 W4 W5}
ID_SAMPLE=${BENCH_ID_SAMPLE:-100000}
SEED_CONNECTIONS=${BENCH_SEED_CONNECTIONS:-48}
OUT=${BENCH_OUT:-$BENCH/results/postgres.json}
WORK=$BENCH/.work-pg
PGDIR=$WORK/pgdata
LUA=$BENCH/lua/bench.lua

LOGS=$WORK
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
trap 'cleanup; scripts/pg.sh stop "$PGDIR"' EXIT

log "building (release)"
cargo build --release -p complyd -p floor
rm -rf "$WORK" && mkdir -p "$WORK/seed" "$(dirname "$OUT")"

log "starting a throwaway PostgreSQL in $PGDIR"
PG_URL=$(scripts/pg.sh start "$PGDIR")
PG_VERSION=$(psql "$PG_URL" -Atc 'SHOW server_version')

serve() { # NAME
  start "complyd-$1" "$BIN/complyd" serve --listen 127.0.0.1:0 --data "$WORK/$1" \
    --store "$PG_URL" --jwt-secret "$SECRET"
}
serve a
A_PID=$PID A_URL=$URL
serve b
B_PID=$PID B_URL=$URL
TOKEN=$(token --data "$WORK/a" --store "$PG_URL")

log "seeding $STATUSES statuses over $POLICIES policies through instance A"
"$BIN/seed" --url "$A_URL" --token "$TOKEN" --statuses "$STATUSES" --policies "$POLICIES" \
  --connections "$SEED_CONNECTIONS" --body "$W2_BODY" --out "$WORK/seed"
psql "$PG_URL" -qAtc 'VACUUM ANALYZE' >/dev/null
SEEDED_BYTES=$(psql "$PG_URL" -Atc 'SELECT pg_database_size(current_database())')
request_lists "$WORK/seed" "$ID_SAMPLE"

# Both instances answer each workload's request, and B reads what A wrote.
for side in a b; do
  base=$A_URL; [ "$side" = b ] && base=$B_URL
  capture "$base" "$side-w1" 201 POST "$(head -n1 "$WORK/w1.paths")" "$W1_BODY"
  capture "$base" "$side-w2" 201 POST "$(head -n1 "$WORK/w2.paths")" "$W2_BODY"
  capture "$base" "$side-w3" 200 GET "$(head -n1 "$WORK/w3.paths")"
  capture "$base" "$side-w4" 200 GET "$(head -n1 "$WORK/w4.paths")"
done

# wrk_json OUT THREADS CONNECTIONS URL : one wrk run of the current workload; its summary to OUT.
wrk_json() {
  BENCH_GET_PATHS=$gets BENCH_POST_PATHS=$posts BENCH_POST_BODY=$body BENCH_WRITE_PCT=$pct \
    wrk -t"$2" -c"$3" -d"$DURATION" --timeout 10s --latency -s "$LUA" \
    -H "Authorization: Bearer $TOKEN" "$4/" >"$1"
  grep -q '^BENCHJSON ' "$1" || { echo "wrk printed no summary, see $1" >&2; return 1; }
}
summary() { sed -n 's/^BENCHJSON //p' "$1"; }

# settle : waits (at most 120 s) until no session of the database has been busy for three looks
# 0.2 s apart, so that writes a previous run left queued in either instance do not land in the
# next; prints how many seconds that took.
settle() {
  local t0 quiet=0 busy
  t0=$(date +%s.%N)
  for _ in $(seq 600); do
    busy=$(psql "$PG_URL" -Atc "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
      AND backend_type = 'client backend' AND state <> 'idle' AND pid <> pg_backend_pid()")
    if [ "$busy" = 0 ]; then quiet=$((quiet + 1)); else quiet=0; fi
    [ "$quiet" -ge 3 ] && break
    sleep 0.2
  done
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}
said() { grep -E 'Requests/sec|Non-2xx' "$1" | tr -s ' ' | paste -sd' '; }

: >"$WORK/runs.jsonl"
for w in $WORKLOADS; do
  workload "$w" || exit 2
  log "$w"
  for round in $(seq "$ROUNDS"); do
    one=$WORK/wrk-$w-one-$round.txt
    settled=$(settle)
    wrk_json "$one" 2 32 "$A_URL"
    printf '{"workload":"%s","setup":"one","round":%s,"settled_s":%s,"wrk":[%s]}\n' "$w" "$round" \
      "$settled" "$(summary "$one")" >>"$WORK/runs.jsonl"
    printf '   %-3s one round %s (settled in %.1f s): %s\n' "$w" "$round" "$settled" "$(said "$one")" >&2

    two_a=$WORK/wrk-$w-two-a-$round.txt two_b=$WORK/wrk-$w-two-b-$round.txt
    settled=$(settle)
    wrk_json "$two_a" 1 16 "$A_URL" & wa=$!
    wrk_json "$two_b" 1 16 "$B_URL" & wb=$!
    wait "$wa"
    wait "$wb"
    printf '{"workload":"%s","setup":"two","round":%s,"settled_s":%s,"wrk":[%s,%s]}\n' "$w" "$round" \
      "$settled" "$(summary "$two_a")" "$(summary "$two_b")" >>"$WORK/runs.jsonl"
    printf '   %-3s two round %s (settled in %.1f s): A %s | B %s\n' "$w" "$round" "$settled" \
      "$(said "$two_a")" "$(said "$two_b")" >&2
  done
done

hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
RSS_A=$(hwm "$A_PID") RSS_B=$(hwm "$B_PID")
FINAL_BYTES=$(psql "$PG_URL" -Atc 'SELECT pg_database_size(current_database())')
python3 "$BENCH/postgres_report.py" --runs "$WORK/runs.jsonl" --statuses "$STATUSES" \
  --duration "$DURATION" --rounds "$ROUNDS" --postgres-version "$PG_VERSION" \
  --peak-rss-kib "a=$RSS_A,b=$RSS_B" --seeded-bytes "$SEEDED_BYTES" --final-bytes "$FINAL_BYTES" \
  --out "$OUT"
