#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine with Swift and runs every test: unit, vector and end-to-end
# (the end-to-end tests drive the real `custos` binary and check its output with bsdtar,
# sha256sum, md5sum, sha1sum, hashdeep and sqlite3).
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install-deps.sh
# Warnings are errors for Custos' own targets (see Package.swift).
export CUSTOS_WARNINGS_AS_ERRORS=1
swift build --build-tests
swift test --skip-build
