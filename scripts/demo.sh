#!/usr/bin/env bash
# vigil's main job on its built-in default: boot a small Linux guest under QEMU, introspect it
# from outside through its RAM (no agent, no profile), and shut it down.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
exec python3 scripts/demo.py "$@"
