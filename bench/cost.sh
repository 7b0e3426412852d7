#!/usr/bin/env bash
# CPU per request, for the cost table in bench/RESULTS.md: runs W1, W2 and W3 for 10 s against the
# floor and against complyd on a copy of the data a finished `bench/run.sh` left in bench/.work,
# and prints the CPU time (user + system, from /proc/<pid>/stat) each request cost the server
# process, complyd's writer thread and wrk.
#
#   bench/run.sh && bench/cost.sh
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/bench/.work
COST=$ROOT/bench/.cost
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
SECRET=${BENCH_JWT_SECRET:-complyd-bench-secret-0123456789abcdef0123456789}
FIXTURES=$ROOT/crates/complyd/tests/api/fixtures
[ -f "$WORK/w3.response" ] || { echo "run bench/run.sh first" >&2; exit 1; }

rm -rf "$COST" && mkdir -p "$COST"
cp -a "$WORK/data" "$COST/data"
sync
TOKEN=$("$BIN/complyd" token --data "$COST/data" --jwt-secret "$SECRET" --lifetime 86400)
TICK_US=$((1000000 / $(getconf CLK_TCK)))

ticks() { awk '{ print $14 + $15 }' "$1"; } # utime + stime of /proc/…/stat

measure() { # SERVER WORKLOAD
  local server=$1 w=$2 pid url writer='' p0 p1 t0=0 t1=0 wrk_pid wrk_ticks n rps
  : >"$COST/server.out"
  if [ "$server" = complyd ]; then
    "$BIN/complyd" serve --listen 127.0.0.1:0 --data "$COST/data" --jwt-secret "$SECRET" \
      >"$COST/server.out" 2>/dev/null &
  else
    "$BIN/floor" --listen 127.0.0.1:0 --response-file "$WORK/${w,,}.response" \
      >"$COST/server.out" 2>/dev/null &
  fi
  pid=$!
  for _ in $(seq 300); do
    url=$(sed -n 's/^listening on //p' "$COST/server.out" | head -n1)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "$server did not start" >&2; kill "$pid"; return 1; }
  case $w in
    W1) export BENCH_POST_PATHS=$WORK/w1.paths BENCH_POST_BODY=$FIXTURES/seed000_action_item.request.json BENCH_WRITE_PCT=100 ;;
    W2) export BENCH_POST_PATHS=$WORK/w2.paths BENCH_POST_BODY=$FIXTURES/seed001_device_status.request.json BENCH_WRITE_PCT=100 ;;
    W3) export BENCH_GET_PATHS=$WORK/w3.paths BENCH_WRITE_PCT=0 ;;
  esac
  if [ "$server" = complyd ]; then
    writer=$(grep -l complyd-writer /proc/"$pid"/task/*/comm | head -n1 | xargs dirname)
    t0=$(ticks "$writer/stat")
  fi
  p0=$(ticks "/proc/$pid/stat")
  wrk -t2 -c32 -d10s --timeout 10s -s "$ROOT/bench/lua/bench.lua" \
    -H "Authorization: Bearer $TOKEN" "$url/" >"$COST/wrk.out" &
  wrk_pid=$!
  # wrk's own CPU, read just before it exits.
  sleep 9.8
  wrk_ticks=$(ticks "/proc/$wrk_pid/stat" 2>/dev/null || echo 0)
  wait "$wrk_pid"
  p1=$(ticks "/proc/$pid/stat")
  [ -n "$writer" ] && t1=$(ticks "$writer/stat")
  kill -TERM "$pid"
  wait "$pid" || true
  n=$(awk '/requests in/ { print $1 }' "$COST/wrk.out")
  rps=$(awk '/^Requests\/sec/ { print $2 }' "$COST/wrk.out")
  printf '%-3s %-7s %9s req/s  server %4d µs  writer %4s µs  wrk %3d µs per request\n' \
    "$w" "$server" "$rps" $(((p1 - p0) * TICK_US / n)) \
    "$([ -n "$writer" ] && echo $(((t1 - t0) * TICK_US / n)) || echo -)" $((wrk_ticks * TICK_US / n))
}

for w in W1 W2 W3; do
  measure floor "$w"
  measure complyd "$w"
done
rm -rf "$COST"
