#!/usr/bin/env bash
# Builds Promptly (release: server + hydrated WebAssembly UI) and starts it on SQLite at
# http://127.0.0.1:3000. Extra arguments go to `promptly serve` (for example --demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
bash scripts/build-release.sh
exec target/release/promptly serve "$@"
