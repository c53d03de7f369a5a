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
# The local server's tests first, on their own and one at a time: their servers run on Swift's
# cooperative threads (two on two cores), which the end-to-end tests keep busy waiting for the
# processes they run, and so may the two exit tests among them waiting for their children, whose
# requests those servers must answer (seen: every request unanswered for 30 s). Then the rest.
swift test --skip-build --filter CustosLocalServerTests --no-parallel
# Then the unit tests apart from the end-to-end ones: those wait on the cooperative threads for
# the processes they run (reports and bundles of many items take seconds each), and the unit
# tests that need a cooperative thread of their own ran out of their time limits beside them
# (seen in CI). Then the end-to-end tests.
swift test --skip-build --skip CustosLocalServerTests --skip CustosEndToEndTests
swift test --skip-build --filter CustosEndToEndTests
