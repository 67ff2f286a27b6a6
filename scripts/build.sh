#!/usr/bin/env bash
# Configures (once) and builds vigil into build/; the CLI is build/vigil.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >&2
