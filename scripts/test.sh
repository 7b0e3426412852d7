#!/usr/bin/env bash
# Runs every test suite of the project: the Rust tests, then the compatibility suite.
# Used by README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
# The official Graph clients against fresh servers (installs them on first use; see compat/run.sh).
env -u COMPLYD_URL -u COMPLYD_TOKEN -u COMPLYD_READ_TOKEN -u COMPLYD_FIDELITY \
    -u COMPLYD_THROTTLED_URL -u COMPLYD_THROTTLED_TOKEN compat/run.sh
# $metadata in an OData client library, and schemathesis with the OpenAPI document (see README).
scripts/contract.sh
