#!/usr/bin/env bash
# Regenerates the console's screenshots in docs/console/ (shown in README, "Console"): the
# end-to-end suite (tools/console-e2e/run.sh) saves a PNG of each page as it passes it.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/console
tools/console-e2e/run.sh --screenshots "$PWD/docs/console"
