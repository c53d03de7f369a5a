#!/usr/bin/env bash
# Installs the system packages Custos builds against and the standard tools its tests use as
# independent verifiers. Debian 12 (bookworm); needs root or sudo.
set -euo pipefail

packages=(
    libarchive-dev libssl-dev libsqlite3-dev libzstd-dev pkg-config  # build: libarchive, OpenSSL, SQLite, zstd
    libpango1.0-dev libcairo2-dev fonts-noto-cjk  # build: the PDF reports (pango, cairo, Noto Sans CJK TC)
    libarchive-tools zstd xz-utils hashdeep sqlite3 openssl python3  # verifiers and the test TSA server
    coreutils tar util-linux  # sha256sum, GNU tar, setpriv and mount
    poppler-utils  # pdfinfo, pdftotext, pdffonts, pdftoppm read the PDF reports back
    strace gcc  # fault injection in the end-to-end tests (strace inject, a preloaded library)
    passwd curl  # useradd and groupadd for the tests' accounts; a raw client of the daemon's socket
)

# `install-deps.sh --list` prints the packages (CI installs them with its own apt-get line).
if [ "${1:-}" = "--list" ]; then
    echo "${packages[*]}"
    exit 0
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
