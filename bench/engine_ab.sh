#!/usr/bin/env bash
# A/B of two complyd binaries on the settled tenant a finished `bench/engine.sh` left in
# bench/.work-engine: for each round, A then B, each on a fresh copy of its data, (b) one PATCH
# of the all-devices policy until re-evaluated (skipped with ENGINE_AB_NO_REEVAL=1, so that
# check-ins meet a server as it starts) and (c) check-ins with wrk (2 threads, 32 connections,
# bench/lua/checkin.lua), with the server's CPU per check-in from /proc/<pid>/stat.
# Prints one line per run and the median B/A of check-ins/s with its range.
# ENGINE_AB_GETS=overview|summary|settings runs (d)'s GETs instead of the check-ins (the paths
# bench/engine.sh wrote, bench/lua/bench.lua; no re-evaluation first).
#
#   bench/engine_ab.sh /tmp/complyd-before target/release/complyd
#   ENGINE_AB_GETS=overview bench/engine_ab.sh /tmp/complyd-before target/release/complyd
# Overrides: ENGINE_AB_ROUNDS (3), ENGINE_AB_DURATION (5s), ENGINE_AB_NO_REEVAL, ENGINE_AB_DATA_A
# and ENGINE_AB_DATA_B (a data folder for A or B, e.g. the tenant already re-evaluated once by
# that binary), ENGINE_AB_WORK_A and ENGINE_AB_WORK_B (a whole folder `bench/engine.sh` left,
# ENGINE_WORK there: its data, its policies and its devices, to compare two tenants' layouts),
# ENGINE_AB_GETS, ENGINE_AB_LENGTH (the patched passwordMinimumLength, 13: engine.sh left 12, so
# 13 moves the outcome of few devices; 6, the setup's value, moves many).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/bench
SOURCE=$BENCH/.work-engine
AB=$BENCH/.engine-ab
LOGS=$AB
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
[ $# -eq 2 ] || { echo "usage: bench/engine_ab.sh BINARY_A BINARY_B" >&2; exit 2; }
[ -f "$SOURCE/policies.txt" ] || { echo "run bench/engine.sh first" >&2; exit 1; }
A=$(realpath "$1") B=$(realpath "$2")
ROUNDS=${ENGINE_AB_ROUNDS:-3}
DURATION=${ENGINE_AB_DURATION:-5s}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
GETS=${ENGINE_AB_GETS:-}
if [ -n "$GETS" ]; then
  [ -f "$SOURCE/$GETS.paths" ] || { echo "no $SOURCE/$GETS.paths (overview, summary or settings)" >&2; exit 2; }
  ENGINE_AB_NO_REEVAL=1
  WHAT="$GETS GETs"
else
  WHAT=check-ins
fi
SCOPES=DeviceManagementConfiguration.ReadWrite.All,DeviceManagementManagedDevices.ReadWrite.All,Directory.ReadWrite.All
rm -rf "$AB" && mkdir -p "$AB"

run() { # BINARY [DATA] [WORK] → "check-ins/s p99 cpu_us reeval_s"
  local exe=$1 token reeval=- p0 p1 n work=${3:-$SOURCE}
  local data=${2:-$work/data} all
  all=$(head -n1 "$work/policies.txt")
  rm -rf "$AB/data" && cp -a "$data" "$AB/data" && sync
  start complyd "$exe" serve --listen 127.0.0.1:0 --data "$AB/data" --jwt-secret "$SECRET"
  token=$("$exe" token --data "$AB/data" --jwt-secret "$SECRET" --lifetime 86400 --scopes "$SCOPES")
  if [ -z "${ENGINE_AB_NO_REEVAL:-}" ]; then
    reeval=$(python3 "$BENCH/engine_reeval.py" "$URL" "$token" "$all" "${ENGINE_AB_LENGTH:-13}" 2>/dev/null |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["settled_s"])')
  fi
  p0=$(awk '{ print $14 + $15 }' "/proc/$PID/stat")
  if [ -n "$GETS" ]; then
    BENCH_GET_PATHS="$work/$GETS.paths" wrk -t2 -c32 -d"$DURATION" --timeout 10s --latency \
      -s "$BENCH/lua/bench.lua" -H "Authorization: Bearer $token" "$URL/" >"$AB/wrk.out"
  else
    BENCH_DEVICES="$work/devices.txt" wrk -t2 -c32 -d"$DURATION" --timeout 10s --latency \
      -s "$BENCH/lua/checkin.lua" -H "Authorization: Bearer $token" "$URL/" >"$AB/wrk.out"
  fi
  p1=$(awk '{ print $14 + $15 }' "/proc/$PID/stat")
  stop "$PID"
  n=$(awk '/requests in/ { print $1 }' "$AB/wrk.out")
  awk -v n="$n" -v cpu=$(((p1 - p0) * TICK_US)) -v reeval="$reeval" '
    /^Requests\/sec/ { rps = $2 }
    /^ +99%/ { p99 = $2; if (p99 ~ /us$/) p99 = p99 / 1000; else if (p99 ~ /s$/ && p99 !~ /ms$/) p99 = p99 * 1000; else p99 = p99 + 0 }
    END { printf "%.0f %.1f %.0f %s\n", rps, p99, cpu / n, reeval }' "$AB/wrk.out"
}

ratios=()
for r in $(seq "$ROUNDS"); do
  read -r ra pa ca ea < <(run "$A" "${ENGINE_AB_DATA_A:-}" "${ENGINE_AB_WORK_A:-}")
  read -r rb pb cb eb < <(run "$B" "${ENGINE_AB_DATA_B:-}" "${ENGINE_AB_WORK_B:-}")
  printf 'round %d  A %5s %s/s p99 %6s ms %5s µs (b) %6s s | B %5s %s/s p99 %6s ms %5s µs (b) %6s s\n' \
    "$r" "$ra" "$WHAT" "$pa" "$ca" "$ea" "$rb" "$WHAT" "$pb" "$cb" "$eb"
  ratios+=("$(awk -v a="$ra" -v b="$rb" 'BEGIN { printf "%.3f", b / a }')")
done
printf '%s\n' "${ratios[@]}" | sort -n | awk -v what="$WHAT" '
  { v[NR] = $1 } END { printf "%s B/A median %.2f (%.2f-%.2f)\n", what, v[int((NR + 1) / 2)], v[1], v[NR] }'
rm -rf "$AB"
