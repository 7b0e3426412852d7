#!/usr/bin/env bash
# The time benchmark (issue 19, "Speed"): builds complyd (release), makes a tenant whose clock is
# frozen, with one compliance policy per platform that about a fifth of the fleet fails, each with
# three scheduled actions (emails on days 1 and 3, retire on day 7; block at once), and the
# check-in threshold at its maximum (120 days, so the month measured is about the actions, not
# every device going stale); then `complyd fleet generate` of N devices (evaluated as they are
# made, their actions planned), and over HTTP (bench/time_run.py):
#   - 200 clock advances of one second that fire nothing (after 20 not measured), before and
#     after: latency p50/p99 as the client sees it (one keep-alive connection);
#   - one advance of 30 days that fires every due action: its time, what fired, and the reports
#     checked (fired = 3 per noncompliant device, verdicts unchanged, retire list, emails).
#
#   bench/time.sh                    # 100,000 devices, 50,000 users
#   bench/time.sh --devices 10000    # a quick run
# Writes bench/results/time.json; bench/RESULTS.md ("Time") keeps the latest.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/bench
DEVICES=100000
while [ $# -gt 0 ]; do
  case $1 in
    --devices) DEVICES=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
USERS=$((DEVICES / 2))
WORK=$BENCH/.work-time
# shellcheck disable=SC2034 # LOGS is read by lib.sh
LOGS=$WORK
RESULTS=$BENCH/results
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"

log "building (release)"
cargo build --release --locked -p complyd
rm -rf "$WORK" && mkdir -p "$WORK" "$RESULTS"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
serve() { start complyd "$BIN/complyd" serve --listen 127.0.0.1:0 --data "$WORK/data" --jwt-secret "$SECRET"; }

serve
TOKEN=$("$BIN/complyd" token --data "$WORK/data" --jwt-secret "$SECRET" --lifetime 86400 \
  --scopes DeviceManagementConfiguration.ReadWrite.All,DeviceManagementManagedDevices.ReadWrite.All,Directory.ReadWrite.All,DeviceManagementServiceConfig.ReadWrite.All)
log "clock, settings, template and policies over HTTP"
python3 "$BENCH/time_run.py" setup "$URL" "$TOKEN" "$WORK"
stop "$PID"

log "complyd fleet generate: $DEVICES devices, $USERS users (evaluated, actions planned)"
t0=$(now)
"$BIN/complyd" fleet generate --data "$WORK/data" --jwt-secret "$SECRET" \
  --users "$USERS" --devices "$DEVICES" --seed 1 >"$WORK/fleet.json"
FLEET_S=$(secs "$t0" "$(now)")
log "    $FLEET_S s"

serve
log "advances: 200 empty, one of 30 days, 200 empty"
python3 "$BENCH/time_run.py" measure "$URL" "$TOKEN" "$WORK" | tee "$WORK/measure.json" >&2
HWM_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$PID/status")
stop "$PID"

python3 - "$WORK" "$DEVICES" "$FLEET_S" "$HWM_KB" "$RESULTS/time.json" <<'PY'
import json, sys
work, devices, fleet, hwm, out = sys.argv[1:]
m = json.load(open(f"{work}/measure.json"))
res = dict(m, devices=int(devices), fleet_generate_s=float(fleet), peak_rss_mib=round(int(hwm) / 1024, 1))
json.dump(res, open(out, "w"), indent=2)
rows = [
    ("advance 30 days", f"{m['advance_30d_s']} s, {m['fired']} fired, reports right: {m['reports_right']}",
     "< 30 s", m["advance_30d_s"] < 30 and m["reports_right"]),
    ("empty advance p99 (before)", f"{m['empty_advance_before']['p99_ms']} ms", "< 5 ms",
     m["empty_advance_before"]["p99_ms"] < 5),
    ("empty advance p99 (after)", f"{m['empty_advance_after']['p99_ms']} ms", "< 5 ms",
     m["empty_advance_after"]["p99_ms"] < 5),
]
for name, fig, target, met in rows:
    print(f"{name:28} {fig:60} {target:8} {'met' if met else 'NOT met'}")
print(f"{m['noncompliant_devices']} of {devices} devices noncompliant; fleet generate {fleet} s; peak RSS {res['peak_rss_mib']} MiB")
PY
