#!/usr/bin/env bash
# Fuzzes every target of fuzz/Cargo.toml for SECONDS each: the query-option parsers and binder
# (query_options), the resource-path parser and the body validator (request_parts), and the rule
# parser, binder and evaluator of dynamic membership rules and assignment filters (rules).
#   scripts/fuzz.sh [SECONDS] [SEED]   SECONDS defaults to 60; SEED to a random one.
# CI passes a fixed seed and a fresh clone has no corpus, so its run is repeatable: the same seed
# explores the same inputs in the same order, and a slower machine only stops earlier. Run without
# a seed (and for longer) to look for new failures. Inputs that found bugs are kept in
# fuzz/seeds/<target>; fuzz/dict/<target>.dict lists the tokens a target's input is made of. A
# selector bit makes a target expand a short template into a long input (fuzz/src/lib.rs), so
# chains of thousands of terms fit in libFuzzer's default input size.
# A stable toolchain (rust-toolchain.toml pins 1.95.0, which cargo-fuzz runs with as it is):
# sanitizers off (-s none, as -Zsanitizer needs nightly); libFuzzer still finds panics and runaway
# recursion.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
seed_option=()
[[ -n "${2:-}" ]] && seed_option=(-seed="$2")
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cd fuzz
for target in $(cargo fuzz list); do
    echo "== fuzz $target for ${seconds}s"
    mkdir -p "corpus/$target"
    dict_option=()
    [[ -f "dict/$target.dict" ]] && dict_option=(-dict="dict/$target.dict")
    cargo fuzz run "$target" -s none "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 "${seed_option[@]}" "${dict_option[@]}"
done
