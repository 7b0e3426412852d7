#!/usr/bin/env bash
# The service's descriptions checked by real tools against a running complyd:
#  1. $metadata of both versions loaded by python-odata, an OData v4 client (tools/metadata-check);
#  2. schemathesis with complyd's own OpenAPI document (/openapi.json) and a valid token. Bounded:
#     a fixed seed and number of examples per operation, and a hard time limit. Every check runs
#     (schemathesis's default) but the two tools/schemathesis/schemathesis.toml turns off, each with
#     its reason. Any failure (5xx, a response that breaks the document, a crash) fails the script.
# Env: SCHEMATHESIS_EXAMPLES (default 20), SCHEMATHESIS_SEED (1), SCHEMATHESIS_TIMEOUT (s, 900).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/compat/.venv   # the one virtualenv of the project's Python tooling

scripts/venv.sh "$VENV" tools/requirements.txt contract

cargo build --locked --quiet -p complyd --bin complyd
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/complyd

WORK=$(mktemp -d)
SECRET=contract-$RANDOM$RANDOM
SERVER_PID=
# shellcheck disable=SC2317 # run by the EXIT trap, which shellcheck does not follow
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" serve --listen 127.0.0.1:0 --data "$WORK/data" --jwt-secret "$SECRET" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
BASE=
for _ in $(seq 1 100); do
    BASE=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$WORK/server.log" | head -n1 || true)
    [ -n "$BASE" ] && break
    sleep 0.1
done
if [ -z "$BASE" ]; then
    echo "complyd did not start:" >&2
    cat "$WORK/server.log" >&2
    exit 1
fi
# Every permission the document's operations ask for (scope tags, templates, the audit log...).
SCOPES=Directory.ReadWrite.All,DeviceManagementConfiguration.ReadWrite.All,DeviceManagementRBAC.ReadWrite.All,DeviceManagementServiceConfig.ReadWrite.All,DeviceManagementApps.ReadWrite.All,DeviceManagementManagedDevices.ReadWrite.All
TOKEN=$("$BIN" token --data "$WORK/data" --jwt-secret "$SECRET" --lifetime 7200 --scopes "$SCOPES")

echo "== \$metadata in python-odata ($BASE)"
"$VENV/bin/python" tools/metadata-check/check.py "$BASE"

echo "== schemathesis with $BASE/openapi.json"
# One worker: with two, Hypothesis's shared lambda-source cache is read and written from two
# threads, and a fresh clone's run once died inside the tool (KeyError, "FlakyFailure") before
# sending the request.
set +e
(cd tools/schemathesis && timeout "${SCHEMATHESIS_TIMEOUT:-900}" "$VENV/bin/schemathesis" \
    --config-file schemathesis.toml \
    run "$BASE/openapi.json" \
    --header "Authorization: Bearer $TOKEN" \
    --max-examples "${SCHEMATHESIS_EXAMPLES:-20}" \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    --workers 1 \
    --no-color)
status=$?
set -e
if grep -q "panicked" "$WORK/server.log"; then
    echo "complyd panicked during the run:" >&2
    grep -A5 "panicked" "$WORK/server.log" >&2
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "schemathesis: FAILED (exit $status)" >&2
fi
exit "$status"
