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
# The local server's tests first, on their own: their servers run on Swift's cooperative threads,
# which the end-to-end tests keep busy waiting for the processes they run (two threads on two
# cores); beside them a server can wait minutes for a thread. Then everything else.
swift test --skip-build --filter CustosLocalServerTests
swift test --skip-build --skip CustosLocalServerTests
