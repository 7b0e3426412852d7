#!/usr/bin/env bash
# The engine benchmark (issue 18, "Speed"): builds complyd (release), makes the issue's tenant and
# measures it:
#   (a) `complyd fleet generate` of N devices and N/2 users (plus its 5 groups), timed;
#   then over HTTP (bench/engine_setup.py): 995 more static groups of 20 users, 2 assignment
#   filters, 20 policies of ~10 settings (Windows, iOS, macOS, Android work profile; block
#   actions, some with grace) assigned to all devices, all licensed users, groups, exclusions and
#   filtered groups; settle timed (every device under every policy, a first full evaluation);
#   (b) one PATCH of the all-devices policy until GET /complyd/v1/engine answers not pending, then
#   its reports checked against a from-scratch what-if (bench/engine_reeval.py);
#   (c) check-ins: wrk, 32 connections, bench/lua/checkin.lua (varied reports, random devices);
#   (d) GETs of deviceStatusOverview, deviceCompliancePolicyDeviceStateSummary and
#   deviceSettingStateSummaries: wrk, 32 connections, bench/lua/bench.lua.
#
#   bench/engine.sh                        # 100,000 devices, 50,000 users, 1,000 groups
#   bench/engine.sh --devices 10000        # a quick run (5,000 users)
# Options: --devices N (100000), --groups G (995 static groups besides the fleet's 5),
# --duration D (wrk, 20s). ENGINE_BIN=/path/to/complyd measures that binary instead of building
# this tree's (for a before/after on a tenant of each). ENGINE_WORK: another folder than
# bench/.work-engine. Prints the figures and writes bench/results/engine.json;
# bench/RESULTS.md ("Engine") keeps the latest.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/bench
DEVICES=100000
NGROUPS=995
DURATION=20s
while [ $# -gt 0 ]; do
  case $1 in
    --devices) DEVICES=$2; shift 2 ;;
    --groups) NGROUPS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
USERS=$((DEVICES / 2))
WORK=${ENGINE_WORK:-$BENCH/.work-engine}
# shellcheck disable=SC2034 # LOGS is read by lib.sh
LOGS=$WORK
RESULTS=$BENCH/results
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"

if [ -n "${ENGINE_BIN:-}" ]; then
  EXE=$(realpath "$ENGINE_BIN")
else
  log "building (release)"
  cargo build --release --locked -p complyd
  EXE=$BIN/complyd
fi
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }
rm -rf "$WORK" && mkdir -p "$WORK" "$RESULTS"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# --- (a) the fleet ------------------------------------------------------------------------------
log "(a) complyd fleet generate: $DEVICES devices, $USERS users"
t0=$(now)
"$EXE" fleet generate --data "$WORK/data" --jwt-secret "$SECRET" \
  --users "$USERS" --devices "$DEVICES" --seed 1 >"$WORK/fleet.json"
FLEET_S=$(secs "$t0" "$(now)")
log "    $FLEET_S s"

start complyd "$EXE" serve --listen 127.0.0.1:0 --data "$WORK/data" --jwt-secret "$SECRET"
COMPLYD_PID=$PID
TOKEN=$("$EXE" token --data "$WORK/data" --jwt-secret "$SECRET" --lifetime 86400 \
  --scopes DeviceManagementConfiguration.ReadWrite.All,DeviceManagementManagedDevices.ReadWrite.All,Directory.ReadWrite.All)

# --- the tenant's groups and policies, then its first full evaluation ----------------------------
log "groups, filters and policies over HTTP"
python3 "$BENCH/engine_setup.py" "$URL" "$TOKEN" "$WORK" --groups "$NGROUPS"
t0=$(now)
curl -sf -X POST -H "Authorization: Bearer $TOKEN" "$URL/complyd/v1/engine/settle" >"$WORK/settle.json"
SETTLE_S=$(secs "$t0" "$(now)")
log "    first full evaluation (settle): $SETTLE_S s, $(cat "$WORK/settle.json")"
ALL=$(head -n1 "$WORK/policies.txt")

# --- (b) one PATCH of the all-devices policy -------------------------------------------------------
log "(b) re-evaluation after one PATCH"
python3 "$BENCH/engine_reeval.py" "$URL" "$TOKEN" "$ALL" 12 | tee "$WORK/reeval.json" >&2

# --- (c) check-ins, (d) GETs ------------------------------------------------------------------------
run_wrk() { # NAME LUA [ENV=VALUE…]
  local name=$1 lua=$2 out=$WORK/wrk-$1.txt line; shift 2
  env "$@" wrk -t2 -c32 -d"$DURATION" --timeout 10s --latency -s "$lua" \
    -H "Authorization: Bearer $TOKEN" "$URL/" >"$out"
  line=$(sed -n 's/^BENCHJSON //p' "$out")
  [ -n "$line" ] || { echo "wrk printed no summary, see $out" >&2; return 1; }
  printf '{"name":"%s","wrk":%s}\n' "$name" "$line" >>"$WORK/runs.jsonl"
  printf '   %-12s %s\n' "$name" "$(grep -E 'Requests/sec|Non-2xx|99%' "$out" | tr -s ' ' | paste -sd' ')" >&2
}
: >"$WORK/runs.jsonl"
log "(c) check-ins: 32 connections, $DURATION"
run_wrk checkin "$BENCH/lua/checkin.lua" BENCH_DEVICES="$WORK/devices.txt"
P=/beta/deviceManagement/deviceCompliancePolicies
sed "s|.*|$P/&/deviceStatusOverview|" "$WORK/policies.txt" >"$WORK/overview.paths"
echo /beta/deviceManagement/deviceCompliancePolicyDeviceStateSummary >"$WORK/summary.paths"
sed "s|.*|$P/&/deviceSettingStateSummaries|" "$WORK/policies.txt" >"$WORK/settings.paths"
for g in overview summary settings; do
  log "(d) GET $g: 32 connections, $DURATION"
  run_wrk "$g" "$BENCH/lua/bench.lua" BENCH_GET_PATHS="$WORK/$g.paths"
done
HWM_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$COMPLYD_PID/status")
stop "$COMPLYD_PID"

python3 - "$WORK" "$DEVICES" "$USERS" "$NGROUPS" "$FLEET_S" "$SETTLE_S" "$HWM_KB" "$DURATION" \
  "$RESULTS/engine.json" <<'EOF'
import json, sys
work, devices, users, groups, fleet, settle, hwm, duration, out = sys.argv[1:]
runs = {r["name"]: r["wrk"] for r in map(json.loads, open(f"{work}/runs.jsonl"))}
reeval = json.load(open(f"{work}/reeval.json"))
def rate(w): return w["requests"] / (w["duration_us"] / 1e6)
def errors(w): return sum(w["errors"].values())
res = {"devices": int(devices), "users": int(users), "groups": int(groups) + 5, "policies": 20,
       "fleet_generate_s": float(fleet), "first_settle_s": float(settle), "reevaluation": reeval,
       "wrk_duration": duration, "peak_rss_mib": round(int(hwm) / 1024, 1),
       "wrk": {k: {"per_s": round(rate(w)), "p50_ms": w["latency_us"]["p50"] / 1000,
                   "p99_ms": w["latency_us"]["p99"] / 1000, "errors": errors(w)} for k, w in runs.items()}}
json.dump(res, open(out, "w"), indent=2)
w = res["wrk"]
rows = [
    ("(a) fleet generate", f"{fleet} s", "< 30 s", float(fleet) < 30),
    ("    first full evaluation (settle)", f"{settle} s", "-", None),
    ("(b) re-evaluation after a PATCH", f"{reeval['settled_s']} s, reports right: {reeval['reports_right']}",
     "< 10 s", reeval["settled_s"] < 10 and reeval["reports_right"]),
    ("(c) check-ins/s", f"{w['checkin']['per_s']}", ">= 5000", w["checkin"]["per_s"] >= 5000),
    ("(c) check-in p99", f"{w['checkin']['p99_ms']} ms", "< 5 ms", w["checkin"]["p99_ms"] < 5),
]
for g in ("overview", "summary", "settings"):
    rows.append((f"(d) GET {g} p99", f"{w[g]['p99_ms']} ms ({w[g]['per_s']}/s)", "< 5 ms", w[g]["p99_ms"] < 5))
for name, fig, target, met in rows:
    print(f"{name:38} {fig:40} {target:8} {'' if met is None else ('met' if met else 'NOT met')}")
bad = {k: v["errors"] for k, v in w.items() if v["errors"]}
print(f"peak RSS {res['peak_rss_mib']} MiB; wrk errors/non-2xx: {bad or 'none'}")
EOF
