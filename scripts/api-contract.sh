#!/usr/bin/env bash
# The API contract test: schemathesis against the OpenAPI document a throwaway Promptly
# serves (its own SQLite file, demo data, a free loopback port, an admin token made with
# `promptly token create`). Every operation, the stateful phase on the links schemathesis
# infers, `--checks all`, a fixed seed and example count so a run is repeatable.
#
#   bash scripts/api-contract.sh [BINARY] [EXAMPLES]
#
# BINARY defaults to target/release/promptly, EXAMPLES (per operation) to 40. Refusals of
# schema-valid requests that the schema cannot state (cross-field rules) are accepted in
# scripts/api-contract.baseline, a schemathesis baseline file with each entry's `why`;
# anything else fails the run. Records that do not exist answer 404 and values already
# taken 409, which schemathesis counts as accepted refusals.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/promptly}
examples=${2:-40}
st=target/schemathesis-venv/bin/st
[ -x "$st" ] || bash scripts/setup.sh

dir=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
db="sqlite://$dir/contract.db"
token=$("$bin" token create --name schemathesis --role admin --database-url "$db" --log error | tail -1)
"$bin" serve --addr "127.0.0.1:$port" --database-url "$db" --demo --log warn \
  --admin-email admin@example.com --admin-password 'contract test admin' >"$dir/serve.log" 2>&1 &
server=$!
# Up to a minute: --demo seeds a past quarter of conversations before it listens.
for _ in $(seq 600); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$dir/serve.log"; exit 1; }
  sleep 0.1
done

status=0
# Run from the temp dir: schemathesis keeps a cache of past failures in its working dir,
# and a run must not depend on an earlier one.
here=$PWD
(cd "$dir" && "$here/$st" --config-file "$here/scripts/api-contract.toml" run "http://127.0.0.1:$port/api/v1/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks all --seed 20261206 --max-examples "$examples" --workers 1 \
  --generation-database none --no-color \
  --baseline "$here/scripts/api-contract.baseline") \
  || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log ---"
  tail -50 "$dir/serve.log"
fi
exit "$status"
