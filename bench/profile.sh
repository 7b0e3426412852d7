#!/usr/bin/env bash
# Where one workload's time goes: `perf record --call-graph dwarf` of complyd while wrk runs the
# workload, then bench/profile_summary.py over the samples (each thread's share, and the frames
# that hold most of the busiest threads' samples). For the profile summaries issue 22 asks for.
#
#   bench/profile.sh W3                 # W0-W5, on a copy of the data bench/run.sh left
#   bench/profile.sh checkin            # check-ins, on a copy of the tenant bench/engine.sh left
#   bench/profile.sh reeval 20          # (b): one PATCH of the all-devices policy, same tenant
#   bench/profile.sh W2 8 /tmp/complyd  # seconds (default 8) and another binary
# PROFILE_DATA: another data folder to copy (one the binary has already migrated).
# PROFILE_LENGTH: the passwordMinimumLength reeval patches in (13; see bench/engine_ab.sh).
# Needs perf (Debian: linux-perf). Writes bench/.profile/NAME.txt (the summary) and keeps
# perf.data there until the next run.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/bench
OUT=$BENCH/.profile
# shellcheck disable=SC2034 # LOGS and WORK are read by lib.sh
LOGS=$OUT
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
[ $# -ge 1 ] || { echo "usage: bench/profile.sh W0..W5|checkin|reeval [SECONDS] [BINARY]" >&2; exit 2; }
NAME=$1 DURATION=${2:-8} EXE=$(realpath "${3:-$BIN/complyd}")
command -v perf >/dev/null || { echo "perf is not installed" >&2; exit 1; }
SCOPES=DeviceManagementConfiguration.ReadWrite.All,DeviceManagementManagedDevices.ReadWrite.All,Directory.ReadWrite.All

if [ "$NAME" = checkin ] || [ "$NAME" = reeval ]; then
  SOURCE=$BENCH/.work-engine
  [ -f "$SOURCE/devices.txt" ] || { echo "run bench/engine.sh first" >&2; exit 1; }
else
  SOURCE=$BENCH/.work
  # shellcheck disable=SC2034
  WORK=$SOURCE
  [ -f "$SOURCE/w0.response" ] || { echo "run bench/run.sh first" >&2; exit 1; }
  workload "$NAME"
fi

rm -rf "$OUT" && mkdir -p "$OUT"
cp -a "${PROFILE_DATA:-$SOURCE/data}" "$OUT/data" && sync
start complyd "$EXE" serve --listen 127.0.0.1:0 --data "$OUT/data" --jwt-secret "$SECRET"
TOKEN=$("$EXE" token --data "$OUT/data" --jwt-secret "$SECRET" --lifetime 86400 --scopes "$SCOPES")
perf record -F 999 --call-graph dwarf,32768 -p "$PID" -o "$OUT/perf.data" -- sleep "$DURATION" \
  >/dev/null 2>&1 &
PERF=$!
if [ "$NAME" = reeval ]; then
  python3 "$BENCH/engine_reeval.py" "$URL" "$TOKEN" "$(head -n1 "$SOURCE/policies.txt")" "${PROFILE_LENGTH:-13}" \
    >"$OUT/wrk.out" 2>&1
elif [ "$NAME" = checkin ]; then
  BENCH_DEVICES="$SOURCE/devices.txt" wrk -t2 -c32 -d"${DURATION}s" --timeout 10s --latency \
    -s "$BENCH/lua/checkin.lua" -H "Authorization: Bearer $TOKEN" "$URL/" >"$OUT/wrk.out"
else
  # shellcheck disable=SC2154 # gets, posts, body and pct are set by workload()
  BENCH_GET_PATHS=$gets BENCH_POST_PATHS=$posts BENCH_POST_BODY=$body BENCH_WRITE_PCT=$pct \
    wrk -t2 -c32 -d"${DURATION}s" --timeout 10s --latency -s "$BENCH/lua/bench.lua" \
    -H "Authorization: Bearer $TOKEN" "$URL/" >"$OUT/wrk.out"
fi
wait "$PERF" || true
stop "$PID"
perf script -i "$OUT/perf.data" 2>/dev/null >"$OUT/perf.script"
{
  echo "$NAME, ${DURATION} s, $(basename "$EXE"): $(grep -E 'Requests/sec|settled' "$OUT/wrk.out" | tr -s ' ')"
  python3 "$BENCH/profile_summary.py" "$OUT/perf.script"
} | tee "$OUT/$NAME.txt"
rm -rf "$OUT/data" "$OUT/perf.script"
