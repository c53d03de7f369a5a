#!/usr/bin/env bash
# Runs a Custos node on the embedded default (SQLite ledger and a local vault): installs the
# system packages, builds the release binary, creates the vault if there is none, seals the files
# given (if any), then runs the daemon in the foreground: whatever is dropped into the vault's
# inbox/ is sealed and moved to sealed/. Ctrl-C (SIGINT) or SIGTERM stops it gracefully.
#
#   packaging/run-node.sh [FILE_OR_DIRECTORY...]
#
# Environment: CUSTOS_VAULT (default ./custos-vault), CUSTOS_ORIGIN (default <hostname>/evidence),
# and the daemon's settings (CUSTOS_INBOX, CUSTOS_SETTLE_SECONDS, …; see Docs/Operations.md).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/packaging/install-deps.sh"
(cd "$here" && swift build -c release --product custos)
custos="$here/.build/release/custos"

export CUSTOS_VAULT="${CUSTOS_VAULT:-$PWD/custos-vault}"
if [ ! -e "$CUSTOS_VAULT/custos.json" ]; then
    "$custos" init --origin "${CUSTOS_ORIGIN:-$(hostname -f 2>/dev/null || hostname)/evidence}"
fi
if (($#)); then
    "$custos" ingest "$@"
fi
echo "vault: $CUSTOS_VAULT"
echo "drop evidence into $CUSTOS_VAULT/inbox/<case>/ ; sealed originals go to $CUSTOS_VAULT/sealed/"
exec "$custos" daemon
