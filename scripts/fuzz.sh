#!/usr/bin/env bash
# Fuzzes the $filter/$orderby/$select/$expand parsers and the binder.
#   scripts/fuzz.sh [SECONDS] [SEED]   SECONDS defaults to 60; SEED to a random one.
# CI passes a fixed seed and a fresh clone has no corpus, so its run is repeatable: the same seed
# explores the same inputs in the same order, and a slower machine only stops earlier. Run without
# a seed (and for longer) to look for new failures.
# Stable toolchain: sanitizers off (-s none); libFuzzer still finds panics and runaway recursion.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
seed_option=()
[[ -n "${2:-}" ]] && seed_option=(-seed="$2")
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus
cd fuzz
cargo fuzz run query_options -s none corpus seeds -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 "${seed_option[@]}"
