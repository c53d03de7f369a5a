#!/usr/bin/env bash
# Runs a Custos node on the embedded default (SQLite ledger and a local vault): installs the
# system packages, builds the release binary, creates the vault if there is none, and seals the
# files given (the watching daemon comes with `custos daemon`).
#
#   packaging/run-node.sh [FILE_OR_DIRECTORY...]
#
# Environment: CUSTOS_VAULT (default ./custos-vault), CUSTOS_ORIGIN (default <hostname>/evidence).
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
"$custos" list
"$custos" verify
