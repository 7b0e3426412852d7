#!/usr/bin/env bash
# CPU per request, for the cost table in bench/RESULTS.md: runs W1, W2 and W3 for 10 s against the
# floor and against complyd on a copy of the data a finished `bench/run.sh` left in bench/.work,
# and prints the CPU time (user + system, from /proc/<pid>/stat) each request cost the server
# process, complyd's writer thread and wrk.
#
# W0 is a diagnostic, not a workload of the issue: W3's requests with an unknown query option,
# which complyd refuses (400) after the token check, routing and query parsing but before the
# store; the floor answers with that same 400 (both made by bench/run.sh). It is what complyd's
# HTTP path costs on its own.
#
#   bench/run.sh && bench/cost.sh
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/bench
WORK=$BENCH/.work
COST=$BENCH/.cost
LOGS=$COST
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
[ -f "$WORK/w0.response" ] || { echo "run bench/run.sh first" >&2; exit 1; }

rm -rf "$COST" && mkdir -p "$COST"
cp -a "$WORK/data" "$COST/data"
sync
TOKEN=$(token --data "$COST/data")
TICK_US=$((1000000 / $(getconf CLK_TCK)))

ticks() { awk '{ print $14 + $15 }' "$1"; } # utime + stime of /proc/…/stat

measure() { # SERVER WORKLOAD
  local server=$1 w=$2 writer='' p0 p1 t0=0 t1=0 wrk_pid wrk_ticks n rps
  workload "$w"
  if [ "$server" = complyd ]; then
    start complyd "$BIN/complyd" serve --listen 127.0.0.1:0 --data "$COST/data" --jwt-secret "$SECRET"
    writer=$(grep -l complyd-writer /proc/"$PID"/task/*/comm | head -n1 | xargs dirname)
    t0=$(ticks "$writer/stat")
  else
    start floor "$BIN/floor" --listen 127.0.0.1:0 "${floor_args[@]}"
  fi
  p0=$(ticks "/proc/$PID/stat")
  BENCH_GET_PATHS=$gets BENCH_POST_PATHS=$posts BENCH_POST_BODY=$body BENCH_WRITE_PCT=$pct \
    wrk -t2 -c32 -d10s --timeout 10s -s "$BENCH/lua/bench.lua" \
    -H "Authorization: Bearer $TOKEN" "$URL/" >"$COST/wrk.out" &
  wrk_pid=$!
  # wrk's own CPU, read just before it exits.
  sleep 9.8
  wrk_ticks=$(ticks "/proc/$wrk_pid/stat" 2>/dev/null || echo 0)
  wait "$wrk_pid"
  p1=$(ticks "/proc/$PID/stat")
  [ -n "$writer" ] && t1=$(ticks "$writer/stat")
  stop "$PID"
  n=$(awk '/requests in/ { print $1 }' "$COST/wrk.out")
  rps=$(awk '/^Requests\/sec/ { print $2 }' "$COST/wrk.out")
  printf '%-3s %-7s %9s req/s  server %4d µs  writer %4s µs  wrk %3d µs per request\n' \
    "$w" "$server" "$rps" $(((p1 - p0) * TICK_US / n)) \
    "$([ -n "$writer" ] && echo $(((t1 - t0) * TICK_US / n)) || echo -)" $((wrk_ticks * TICK_US / n))
}

for w in W0 W1 W2 W3; do
  measure floor "$w"
  measure complyd "$w"
done
rm -rf "$COST"
