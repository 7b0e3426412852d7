#!/usr/bin/env bash
# The console's speed check (issue 21, "Speed"): every page's server time on a tenant of 100,000
# devices, and the size and caching of its assets.
#
# Builds complyd (release); makes the tenant once (cached in bench/.cache/console-N): `complyd fleet
# generate` (N devices, N/2 users), then bench/engine_setup.py's 20 policies of ~10 settings over
# 95 static groups, evaluated (settle), and the clock moved three days so grace periods run out;
# then, on a copy, serves it with the console and signs in a user as a browser would
# (bench/console_pages.py): each page is fetched ROUNDS times and its `Server-Timing` (the
# console's own time, its API calls included) and wall time recorded.
#
#   bench/console.sh                       # 100,000 devices, 20 rounds
#   bench/console.sh --devices 10000       # a quick run
# Writes bench/results/console.json; bench/RESULTS.md ("Console") keeps the latest figures.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/bench
DEVICES=100000
ROUNDS=20
while [ $# -gt 0 ]; do
  case $1 in
    --devices) DEVICES=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
USERS=$((DEVICES / 2))
WORK=$BENCH/.work-console
CACHE=$BENCH/.cache/console-$DEVICES
# shellcheck disable=SC2034 # LOGS is read by lib.sh
LOGS=$WORK
RESULTS=$BENCH/results
TENANT=5e1b4d9a-0c2f-4e7b-9a51-c0a1d7f3b001
SCOPES=DeviceManagementConfiguration.ReadWrite.All,DeviceManagementManagedDevices.ReadWrite.All,Directory.ReadWrite.All,DeviceManagementServiceConfig.ReadWrite.All,DeviceManagementApps.Read.All
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"

log "building (release)"
cargo build --release --locked -p complyd
rm -rf "$WORK" && mkdir -p "$WORK" "$RESULTS"
token() { "$BIN/complyd" token --data "$1" --jwt-secret "$SECRET" --tenant "$TENANT" --scopes "$SCOPES" --lifetime 86400; }

if [ ! -f "$CACHE/done" ]; then
  log "making the tenant: $DEVICES devices, $USERS users (cached in $CACHE)"
  rm -rf "$CACHE" && mkdir -p "$CACHE"
  t0=$(date +%s.%N)
  "$BIN/complyd" fleet generate --data "$CACHE/data" --jwt-secret "$SECRET" --tenant "$TENANT" \
    --users "$USERS" --devices "$DEVICES" --seed 1 >"$CACHE/fleet.json"
  log "    generated in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
  start setup "$BIN/complyd" serve --listen 127.0.0.1:0 --data "$CACHE/data" --jwt-secret "$SECRET"
  TOKEN=$(token "$CACHE/data")
  python3 "$BENCH/engine_setup.py" "$URL" "$TOKEN" "$CACHE" --groups 95
  log "settling (every device under its policies)"
  t0=$(date +%s.%N)
  curl -sf -X POST -H "Authorization: Bearer $TOKEN" -m 7200 "$URL/complyd/v1/engine/settle" >/dev/null
  log "    settled in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
  log "moving the clock three days"
  curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -m 7200 \
    -d '{"advanceBy":"P3D"}' "$URL/complyd/v1/clock" >"$CACHE/moved.json"
  stop "$PID"
  touch "$CACHE/done"
fi

log "copying the tenant"
cp -a "$CACHE/data" "$WORK/data" && sync
"$BIN/complyd" user add --data "$WORK/data" --jwt-secret "$SECRET" --tenant "$TENANT" \
  --username admin@bench.test --password 'Bench-pa55word!' --scopes "$SCOPES" >/dev/null
start console "$BIN/complyd" serve --listen 127.0.0.1:0 --console 127.0.0.1:0 \
  --data "$WORK/data" --jwt-secret "$SECRET"
CONSOLE=""
for _ in $(seq 100); do
  CONSOLE=$(sed -n 's/^console on \(.*\)\/console$/\1/p' "$WORK/console.out" | head -n1)
  [ -n "$CONSOLE" ] && break
  sleep 0.1
done
[ -n "$CONSOLE" ] || { echo "the console did not say where it listens" >&2; exit 1; }
python3 "$BENCH/console_pages.py" "$CONSOLE" admin@bench.test 'Bench-pa55word!' \
  --rounds "$ROUNDS" --devices "$DEVICES" --out "$RESULTS/console.json"
