#!/usr/bin/env bash
# Proves the packages as a user gets them (see packaging/README.md): builds the complyd wheel with
# maturin, installs it into a fresh venv whose PATH has no Rust, and runs the pytest suite there
# (the fixture and the official Graph SDKs only); then packs the Node package, installs the
# tarball into a fresh folder and runs its suite with `node --test`. Prints the wheel's size and
# the servers' start-up times. Run by scripts/test.sh.
#
# WHEEL_PROFILE=dev (default) reuses the debug build CI already has (seconds); WHEEL_PROFILE=release
# builds what would be published (minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
profile=${WHEEL_PROFILE:-dev}
work=$(mktemp -d /tmp/complyd-packaging.XXXXXX)
say() { echo "# packaging (${SECONDS} s): $*"; }
trap 'rm -rf "$work"' EXIT

# `shows_log OUTPUT HEADING RUNNER`: the failing check's output holds the server's log (the 404 it
# answered) under HEADING.
shows_log() {
    if ! grep -q -- "$2" "$1" || ! grep -q "status=404" "$1"; then
        cat "$1"
        echo "packaging: $3 showed no server log for a failure" >&2
        exit 1
    fi
}

# README's "Use it in your tests" shows these two files, line for line; the suites run them.
for example in packaging/python/tests/test_readme.py packaging/node/test/readme.test.mjs; do
    while IFS= read -r line; do
        if [[ -n "$line" ]] && ! grep -qxF -- "$line" README.md; then
            echo "packaging: README lacks this line of $example: $line" >&2
            exit 1
        fi
    done <"$example"
done

# maturin itself, pinned, in the packaging tools' venv.
scripts/venv.sh packaging/.venv packaging/python/build-requirements.txt maturin
say "building the wheel (profile $profile)"
(cd packaging/python && "$root/packaging/.venv/bin/maturin" build --quiet --profile "$profile" --out "$work/wheels")
wheel=$(ls "$work"/wheels/complyd-*.whl)
say "$(basename "$wheel"): $(du -k "$wheel" | cut -f1) KiB"

# A PATH with the interpreter, node and the system, and no Rust (no ~/.cargo/bin).
python=$(python3 -c 'import sys; print(sys.executable)')
clean_path="$(dirname "$python"):$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin"
userenv=(env -u CARGO_HOME -u RUSTUP_HOME -u VIRTUAL_ENV -u COMPLYD_BIN -u PYTHONDONTWRITEBYTECODE PATH="$clean_path")
if "${userenv[@]}" sh -c 'command -v cargo || command -v rustc' >/dev/null; then
    echo "packaging: the user PATH still finds Rust: $clean_path" >&2
    exit 1
fi

say "a fresh venv with the wheel and tests/requirements.txt"
"${userenv[@]}" "$python" -m venv "$work/venv"
"${userenv[@]}" "$work/venv/bin/pip" install --quiet --no-compile "$wheel" -r packaging/python/tests/requirements.txt
venv_path="$work/venv/bin:$clean_path"
version=$(env PATH="$venv_path" complyd --version)
want="complyd $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
[[ "$version" == "$want" ]] || { echo "packaging: complyd --version says '$version', not '$want'" >&2; exit 1; }
say "$version from $(env PATH="$venv_path" sh -c 'command -v complyd')"

pytest=("${userenv[@]}" PATH="$venv_path" "$work/venv/bin/python" -m pytest -p no:cacheprovider -q)
say "pytest, one server for the session"
(cd packaging/python/tests && "${pytest[@]}" -W ignore::DeprecationWarning)
say "pytest, one server per test"
(cd packaging/python/tests && "${pytest[@]}" -W ignore::DeprecationWarning --complyd-scope function)
say "a failing test shows the server's log"
cp packaging/python/checks/fails_with_log.py "$work/test_fails_with_log.py"
if (cd "$work" && "${pytest[@]}" test_fails_with_log.py >"$work/failed.txt" 2>&1); then
    echo "packaging: the failing pytest check passed" >&2; exit 1
fi
shows_log "$work/failed.txt" "complyd log" pytest

say "npm pack, installed into a fresh folder"
mkdir "$work/node"
(cd packaging/node && npm pack --silent --pack-destination "$work/node" >/dev/null)
tarball=$(ls "$work"/node/complyd-*.tgz)
say "$(basename "$tarball"): $(du -k "$tarball" | cut -f1) KiB"
graph_client=$(node -p 'require("./compat/js/package.json").dependencies["@microsoft/microsoft-graph-client"]')
(cd "$work/node" && npm init -y >/dev/null \
    && npm install --silent --no-audit --no-fund "$tarball" "@microsoft/microsoft-graph-client@$graph_client" \
        vitest@4.1.12 jest@30.5.2)
cp -r packaging/node/test/. "$work/node/"
# The binary the Python wheel installed, found through the active venv as a user's shell has it.
node_env=("${userenv[@]}" PATH="$venv_path" VIRTUAL_ENV="$work/venv" NO_COLOR=1)
(cd "$work/node" && "${node_env[@]}" node --test fixture.test.mjs readme.test.mjs)
(cd "$work/node" && "${node_env[@]}" COMPLYD_SCOPE=function node --test --test-reporter=dot fixture.test.mjs readme.test.mjs)
(cd "$work/node" && "${node_env[@]}" node startup.mjs)
if (cd "$work/node" && "${node_env[@]}" node --test fails-with-log.check.mjs >"$work/node-failed.txt" 2>&1); then
    echo "packaging: the failing node check passed" >&2; exit 1
fi
shows_log "$work/node-failed.txt" "--- complyd log ---" node
say "vitest and jest through complyd/vitest and complyd/jest"
(cd "$work/node" && "${node_env[@]}" npx vitest run vitest/)
(cd "$work/node" && "${node_env[@]}" npx jest jest/)
for runner in "vitest run vitest/" "jest jest/"; do
    # shellcheck disable=SC2086 # the runner's command and its folder, split on purpose
    if (cd "$work/node" && "${node_env[@]}" COMPLYD_FAILING_CHECK=1 npx $runner >"$work/runner-failed.txt" 2>&1); then
        echo "packaging: the failing $runner check passed" >&2; exit 1
    fi
    shows_log "$work/runner-failed.txt" "--- complyd log ---" "$runner"
done
say "ok"
