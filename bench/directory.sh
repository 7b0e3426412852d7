#!/usr/bin/env bash
# The directory benchmark (issue 16): builds a tenant of 100,000 users, 100,000 devices and
# 1,000 groups (100 dynamic, 20 chains nested 5 deep) through the service, then times a full
# recomputation of every dynamic group, GET devices/{id}/transitiveMemberOf and a PATCH of a
# device that moves it in or out of a dynamic group (both over HTTP, one request at a time).
#   bench/directory.sh [ARGS…]     e.g. --users 10000 --devices 10000 for a quick run
# Prints the figures; bench/RESULTS.md keeps the latest.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p directory-bench
exec ./target/release/directory-bench "$@"
