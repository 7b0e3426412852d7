#!/usr/bin/env bash
# Fuzzes the $filter/$orderby/$select/$expand parsers and the binder for N seconds (default 60).
# Stable toolchain: sanitizers off (-s none); libFuzzer still finds panics and runaway recursion.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus
cd fuzz
cargo fuzz run query_options -s none corpus seeds -- -max_total_time="$seconds" -rss_limit_mb=2048
