#!/usr/bin/env bash
# A/B of two complyd binaries on the data a finished `bench/run.sh` left in bench/.work: for each
# workload, ROUNDS pairs of wrk runs (A then B, each on a fresh copy of the data), with the
# requests/s, p99, and the CPU per request of the server and of its writer thread (user + system
# from /proc/<pid>/stat and its task's).
# Prints the median B/A ratio of requests/s over the pairs, with its range.
#
#   bench/ab.sh /tmp/complyd-before target/release/complyd W0 W3
# Overrides: AB_ROUNDS (3), AB_DURATION (8s), AB_WORK_A and AB_WORK_B (a data folder for A or B,
# e.g. the same data already migrated by that binary, so that its runs do not start with a
# migration).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/bench
WORK=$BENCH/.work
AB=$BENCH/.ab
LOGS=$AB
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
[ $# -ge 3 ] || { echo "usage: bench/ab.sh BINARY_A BINARY_B WORKLOAD..." >&2; exit 2; }
[ -f "$WORK/w0.response" ] || { echo "run bench/run.sh first" >&2; exit 1; }
A=$(realpath "$1") B=$(realpath "$2"); shift 2
ROUNDS=${AB_ROUNDS:-3}
DURATION=${AB_DURATION:-8s}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
rm -rf "$AB" && mkdir -p "$AB"
# Each binary's own token, as its users would get it (what `complyd token` puts in it may differ).
TOKEN_A=$("$A" token --data "$WORK/data" --jwt-secret "$SECRET" --lifetime 86400)
TOKEN_B=$("$B" token --data "$WORK/data" --jwt-secret "$SECRET" --lifetime 86400)
# A folder without the database would start B on an empty one: every request a fast 404.
for folder in "${AB_WORK_A:-}" "${AB_WORK_B:-}"; do
  if [ -n "$folder" ] && [ ! -f "$folder/complyd.db" ]; then
    echo "AB_WORK_A/AB_WORK_B: $folder holds no complyd.db (give the data folder itself)" >&2
    exit 2
  fi
done

run() { # BINARY TOKEN WORKLOAD [DATA] → "req/s p99_ms cpu_us writer_us"
  local bin=$1 token=$2 p0 p1 w0=0 w1=0 writer n
  rm -rf "$AB/data" && cp -a "${4:-$WORK/data}" "$AB/data" && sync
  start complyd "$bin" serve --listen 127.0.0.1:0 --data "$AB/data" --jwt-secret "$SECRET"
  writer=$(grep -l complyd-writer /proc/"$PID"/task/*/comm | head -n1 | xargs dirname)
  p0=$(awk '{ print $14 + $15 }' "/proc/$PID/stat")
  w0=$(awk '{ print $14 + $15 }' "$writer/stat")
  BENCH_GET_PATHS=$gets BENCH_POST_PATHS=$posts BENCH_POST_BODY=$body BENCH_WRITE_PCT=$pct \
    wrk -t2 -c32 -d"$DURATION" --timeout 10s --latency -s "$BENCH/lua/bench.lua" \
    -H "Authorization: Bearer $token" "$URL/" >"$AB/wrk.out"
  p1=$(awk '{ print $14 + $15 }' "/proc/$PID/stat")
  w1=$(awk '{ print $14 + $15 }' "$writer/stat")
  stop "$PID"
  n=$(awk '/requests in/ { print $1 }' "$AB/wrk.out")
  awk -v n="$n" -v cpu=$(((p1 - p0) * TICK_US)) -v wcpu=$(((w1 - w0) * TICK_US)) '
    /^Requests\/sec/ { rps = $2 }
    /^ +99%/ { p99 = $2; if (p99 ~ /us$/) p99 = p99 / 1000; else if (p99 ~ /s$/ && p99 !~ /ms$/) p99 = p99 * 1000; else p99 = p99 + 0 }
    END { printf "%.0f %.2f %.1f %.1f\n", rps, p99, cpu / n, wcpu / n }' "$AB/wrk.out"
}

for w in "$@"; do
  workload "$w"
  ratios=()
  for r in $(seq "$ROUNDS"); do
    read -r ra pa ca wa < <(run "$A" "$TOKEN_A" "$w" "${AB_WORK_A:-}")
    read -r rb pb cb wb < <(run "$B" "$TOKEN_B" "$w" "${AB_WORK_B:-}")
    printf '%-3s round %d  A %7s req/s p99 %6s ms %6s µs (writer %5s) | B %7s req/s p99 %6s ms %6s µs (writer %5s)\n' \
      "$w" "$r" "$ra" "$pa" "$ca" "$wa" "$rb" "$pb" "$cb" "$wb"
    ratios+=("$(awk -v a="$ra" -v b="$rb" 'BEGIN { printf "%.3f", b / a }')")
  done
  printf '%s\n' "${ratios[@]}" | sort -n | awk -v w="$w" '
    { v[NR] = $1 } END { printf "%-3s B/A median %.2f (%.2f-%.2f)\n", w, v[int((NR + 1) / 2)], v[1], v[NR] }'
done
rm -rf "$AB"
