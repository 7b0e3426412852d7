#!/usr/bin/env bash
# The console's end-to-end suite in headless Chromium (tools/console-e2e/e2e.py): Debian's
# chromium and chromium-driver (installed with apt when missing and run as root), selenium from
# requirements.txt (into tools/console-e2e/.venv) and axe-core from package-lock.json (npm ci),
# both installed only when missing or when the pins changed.
#
#   tools/console-e2e/run.sh                      the suite
#   tools/console-e2e/run.sh --screenshots DIR    the suite, saving a PNG of each page to DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [[ "$(id -u)" = 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "console e2e: needs chromium and chromium-driver (apt-get install chromium chromium-driver)" >&2
        exit 1
    fi
fi
"$root/scripts/venv.sh" "$here/.venv" "$here/requirements.txt" console-e2e
lock="$here/package-lock.json"
stamp="$here/node_modules/.lock.sha256"
want="$(sha256sum "$lock" | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "# console e2e: npm ci in tools/console-e2e"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
fi
bin="${COMPLYD_BIN:-}"
if [[ -z "$bin" ]]; then
    (cd "$root" && cargo build --locked --quiet -p complyd)
    bin="${CARGO_TARGET_DIR:-$root/target}/debug/complyd"
fi
echo "# console e2e: headless $(chromium --version 2>/dev/null | head -1)"
"$here/.venv/bin/python" "$here/e2e.py" "$bin" "$@"
