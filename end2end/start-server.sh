#!/usr/bin/env bash
# Starts the release build of Promptly on a fresh SQLite database for the browser tests.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export PROMPTLY_DATABASE_URL="sqlite://$dir/e2e.db"
export PROMPTLY_ADDR="127.0.0.1:${1:-3107}"
export PROMPTLY_ADMIN_EMAIL="admin@e2e.test"
export PROMPTLY_ADMIN_PASSWORD="admin-password-1"
export PROMPTLY_SITE_ROOT="$root/target/site"
export PROMPTLY_LOG="${PROMPTLY_LOG:-warn}"
# The compliance tests post conversations of a fixed past month (October 2026).
export PROMPTLY_EVENT_WINDOW_BACK="3650d"
# The channels test's fake WhatsApp Cloud API listens on loopback.
export PROMPTLY_EGRESS_ALLOW="127.0.0.0/8"
# An integration token for the tests that post events, as a channel would.
"$root/target/release/promptly" token create --name e2e --role admin > "$here/.e2e-token"
"$root/target/release/promptly" serve
