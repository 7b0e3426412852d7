#!/usr/bin/env bash
# The compatibility suite: the official Microsoft Graph clients (Python msgraph-sdk and
# msgraph-beta-sdk, JavaScript @microsoft/microsoft-graph-client) drive every endpoint of complyd.
# Then the same clients with azure-identity / @azure/identity, unconfigured, reach complyd through
# `complyd serve --proxy` with only the environment `complyd env` prints (the proxy suites).
#
#   compat/run.sh                  installs the pinned clients if needed (compat/.venv, compat/js/node_modules),
#                                  builds complyd, and runs both suites against fresh servers in both
#                                  fidelity modes, plus a throttled server for the Retry-After cases,
#                                  and the proxy suites against a server with --proxy
#   COMPLYD_URL=... COMPLYD_TOKEN=... compat/run.sh
#                                  runs both suites once against an already running complyd instead
#                                  (also COMPLYD_READ_TOKEN, COMPLYD_FIDELITY, COMPLYD_THROTTLED_URL,
#                                  COMPLYD_THROTTLED_TOKEN, COMPLYD_ROUNDTRIP_TOKEN for the
#                                  backup-and-restore round trip in the token's own tenant, and
#                                  COMPLYD_ENGINE_TOKEN for the JS engine case's tenant; see README)
#
# Exits non-zero when any case failed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
started=$SECONDS

# ---- clients, installed only when missing or when the pins changed

venv="$here/.venv"
"$root/scripts/venv.sh" "$venv" "$here/python/requirements.txt" compat
lock="$here/js/package-lock.json"
jsstamp="$here/js/node_modules/.lock.sha256"
jswant="$(sha256sum "$lock" | cut -d' ' -f1)"
if [[ "$(cat "$jsstamp" 2>/dev/null)" != "$jswant" ]]; then
    echo "# compat: npm ci in compat/js"
    (cd "$here/js" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$jswant" >"$jsstamp"
fi

status=0
passed=0
failed=0

# Runs one suite; keeps its output, adds its closing line to the totals.
suite() {
    local name=$1
    shift
    local log
    log="$(mktemp)"
    echo "# compat: $name"
    if "$@" 2>&1 | tee "$log"; then :; else status=1; fi
    local line
    line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1 || true)"
    if [[ -z "$line" ]]; then
        echo "FAIL - $name: the suite ended without its closing line"
        failed=$((failed + 1))
        status=1
    else
        passed=$((passed + ${line%% passed*}))
        local f=${line#*, }
        failed=$((failed + ${f%% failed}))
    fi
    rm -f "$log"
}

run_both() {
    suite "python ($1)" "$venv/bin/python" "$here/python/run.py"
    suite "js ($1)" node "$here/js/run.mjs"
    if [[ -n "${COMPLYD_ROUNDTRIP_TOKEN:-}" ]]; then
        # A backup tool's round trip, in a tenant of its own (the token's).
        suite "roundtrip ($1)" env COMPLYD_TOKEN="$COMPLYD_ROUNDTRIP_TOKEN" \
            "$venv/bin/python" "$here/python/roundtrip.py"
    fi
}

if [[ -n "${COMPLYD_URL:-}" ]]; then
    # Against a running complyd.
    : "${COMPLYD_TOKEN:?COMPLYD_TOKEN is needed with COMPLYD_URL}"
    run_both "$COMPLYD_URL"
    echo "compat: $passed passed, $failed failed"
    exit $status
fi

# ---- our own servers

cd "$root"
bin="${COMPLYD_BIN:-}"
if [[ -z "$bin" ]]; then
    cargo build --locked --quiet -p complyd
    bin="${CARGO_TARGET_DIR:-$root/target}/debug/complyd"
fi
secret="compat-suite-secret"
roundtrip_tenant=7e1e7e1e-0000-4000-8000-00000000a017
# The engine's JS case reads a tenant summary no other case PATCHes: a tenant of its own.
engine_tenant=7e1e7e1e-0000-4000-8000-00000000e018
all_scopes=Directory.ReadWrite.All,DeviceManagementManagedDevices.ReadWrite.All,Group.ReadWrite.All,DeviceManagementConfiguration.ReadWrite.All,DeviceManagementRBAC.ReadWrite.All,DeviceManagementServiceConfig.ReadWrite.All,DeviceManagementApps.Read.All
work="$(mktemp -d)"
pids=()
# shellcheck disable=SC2317 # run by the EXIT trap, which shellcheck does not follow
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ $status -ne 0 ]]; then
        # A failed run shows what each server said last (a server that stopped says why).
        for err in "$work"/*/stderr; do
            [[ -s $err ]] && { echo "# $err (last 40 lines)"; tail -n 40 "$err"; }
        done
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# start NAME ARGS...: a complyd on a free port; sets $url.
start() {
    local name=$1
    shift
    mkdir -p "$work/$name"
    "$bin" serve --listen 127.0.0.1:0 --data "$work/$name/data" --jwt-secret "$secret" "$@" \
        >"$work/$name/stdout" 2>"$work/$name/stderr" &
    pids+=($!)
    url=""
    for _ in $(seq 1 100); do
        url="$(grep -o 'http://[0-9.:]*' "$work/$name/stdout" 2>/dev/null | head -1 || true)"
        [[ -n "$url" ]] && return 0
        sleep 0.1
    done
    echo "complyd ($name) did not start:" >&2
    cat "$work/$name/stderr" >&2
    exit 1
}
token() {
    "$bin" token --data "$work/$1/data" --jwt-secret "$secret" "${@:2}"
}

# Writes beyond 5 per 2 s window (per app, and per tenant) are throttled.
start throttled --throttle-limits writes=5,requests=200,window=2s
throttled_url=$url
throttled_token="$(token throttled)"

for mode in documented intune; do
    start "$mode" --fidelity "$mode" --page-size 5
    export COMPLYD_URL=$url COMPLYD_FIDELITY=$mode
    # Every permission the suites' endpoints ask for (scope tags, templates, the audit log).
    COMPLYD_TOKEN="$(token "$mode" --scopes "$all_scopes")"
    COMPLYD_READ_TOKEN="$(token "$mode" --scopes DeviceManagementConfiguration.Read.All)"
    COMPLYD_ROUNDTRIP_TOKEN="$(token "$mode" --scopes "$all_scopes" --tenant "$roundtrip_tenant")"
    COMPLYD_DIRECTORY_TOKEN="$(token "$mode" --scopes Directory.ReadWrite.All)"
    COMPLYD_ENGINE_TOKEN="$(token "$mode" --scopes "$all_scopes" --tenant "$engine_tenant")"
    export COMPLYD_TOKEN COMPLYD_READ_TOKEN COMPLYD_DIRECTORY_TOKEN COMPLYD_ROUNDTRIP_TOKEN COMPLYD_ENGINE_TOKEN
    if [[ $mode == documented ]]; then
        # The Retry-After cases need a throttled server; once is enough.
        export COMPLYD_THROTTLED_URL=$throttled_url COMPLYD_THROTTLED_TOKEN=$throttled_token
    else
        unset COMPLYD_THROTTLED_URL COMPLYD_THROTTLED_TOKEN
    fi
    run_both "$mode"
done

# ---- tools hard-wired to Microsoft's names: no base URL, no authority, only the environment of
# `eval "$(complyd env)"` pointing them at `complyd serve --proxy` (compat/python/proxy.py,
# compat/js/proxy.mjs).

proxy_started=$SECONDS
proxy_tenant=5e0c1a2b-3d4e-4f60-8a7b-9c0d1e2f3a4b
mkdir -p "$work/proxy"
proxy_app="$("$bin" app add --data "$work/proxy/data" --tenant "$proxy_tenant" --name "proxy suite" \
    --generate-secret --roles DeviceManagementConfiguration.ReadWrite.All)"
field() { "$venv/bin/python" -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
proxy_client_id="$(field clientId <<<"$proxy_app")"
proxy_client_secret="$(field secret <<<"$proxy_app")"
start proxy --fidelity documented --page-size 2 --proxy 127.0.0.1:0
proxy_addr=""
for _ in $(seq 1 50); do
    proxy_addr="$(sed -n 's|^proxy listening on http://||p' "$work/proxy/stdout")"
    [[ -n "$proxy_addr" ]] && break
    sleep 0.1
done
# proxied CMD...: CMD in a shell that ran `eval "$(complyd env ...)"` for this proxy.
# shellcheck disable=SC2317 # run through `suite`, which shellcheck does not follow
proxied() {
    COMPLYD_TENANT="$proxy_tenant" COMPLYD_PAGE_SIZE=2 \
        COMPLYD_CLIENT_ID="$proxy_client_id" COMPLYD_CLIENT_SECRET="$proxy_client_secret" \
        bash -c 'eval "$("$1" env --data "$2" --proxy "$3")" && shift 3 && exec "$@"' _ \
        "$bin" "$work/proxy/data" "$proxy_addr" "$@"
}
suite "python (proxy)" proxied "$venv/bin/python" "$here/python/proxy.py"
suite "js (proxy)" proxied node "$here/js/proxy.mjs"
echo "# compat: the proxy suites took $((SECONDS - proxy_started)) s"

throttled_429=$(grep -c 'status=429' "$work/throttled/stderr" || true)
echo "# compat: the throttled complyd answered 429 (with Retry-After) $throttled_429 times; every throttled call was retried by the clients"
if [[ "$throttled_429" -lt 1 ]]; then
    echo "FAIL - throttling: the throttled complyd never answered 429"
    failed=$((failed + 1))
    status=1
fi
echo "# compat: $((SECONDS - started)) s"
echo "compat: $passed passed, $failed failed"
exit $status
