#!/usr/bin/env bash
# Install the Debian packages metascope's end-to-end tests use at run time:
# Spring's beans module (for the BeanUtils.copyProperties reproduction in
# java-harness/spring), and Chromium (to render the HTML report).
# libspring-beans-java pulls in libspring-core-java and
# libcommons-logging-java, which BeanUtils needs on the classpath too.
#
# Usage: scripts/install-deps.sh
#
# Idempotent: does nothing (silently) when everything is installed. Runs
# `apt-get update` once before installing. Needs root or sudo; otherwise it
# prints the command to run and exits non-zero.
set -euo pipefail

# chromium: tests/html_report.rs renders the HTML report headless.
PACKAGES=(libspring-beans-java libspring-core-java libcommons-logging-java chromium)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "install-deps.sh: need root to install: ${missing[*]}" >&2
    echo "  run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for pkg in "${missing[@]}"; do
    if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
        echo "install-deps.sh: $pkg did not install" >&2
        exit 1
    fi
done
echo "install-deps.sh: done"
