#!/usr/bin/env bash
# Runs every test suite of the project: the Rust tests, then the compatibility suite.
# Used by README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
# The API suite again on PostgreSQL: the one given in COMPLYD_TEST_POSTGRES, else a throwaway
# cluster started here (PostgreSQL's server binaries are needed; see README).
if [ -n "${COMPLYD_TEST_POSTGRES:-}" ]; then
  cargo test --locked -p complyd --test api
else
  if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  pgdir=$(mktemp -d /tmp/complyd-test-pg.XXXXXX)
  trap 'scripts/pg.sh stop "$pgdir"; rm -rf "$pgdir"' EXIT
  COMPLYD_TEST_POSTGRES=$(scripts/pg.sh start "$pgdir") cargo test --locked -p complyd --test api
fi
# The official Graph clients against fresh servers (installs them on first use; see compat/run.sh).
env -u COMPLYD_URL -u COMPLYD_TOKEN -u COMPLYD_READ_TOKEN -u COMPLYD_FIDELITY \
    -u COMPLYD_THROTTLED_URL -u COMPLYD_THROTTLED_TOKEN compat/run.sh
# $metadata in an OData client library, and schemathesis with the OpenAPI document (see README).
scripts/contract.sh
# The official Python clients against the token service over https (installs them on first use).
identity/run.sh
# The complyd wheel (pytest plugin) and npm package as users install them (see packaging/test.sh).
packaging/test.sh
# The console in headless Chromium with axe-core (installs chromium, selenium and axe-core on
# first use; see README, "Console").
tools/console-e2e/run.sh
