#!/usr/bin/env bash
# `make help`: the targets meant for users, from the Makefile's `## target: what it does` lines
# (a target without one is internal: a step of another target, or for the tests).
# Usage: scripts/make-help.sh [MAKEFILE]
set -euo pipefail
makefile=${1:-Makefile}
echo "Targets (make TARGET; variables as make TARGET NAME=value):"
sed -n 's/^## \([^:]*\): \(.*\)$/\1\t\2/p' "$makefile" |
  while IFS=$'\t' read -r target what; do
    printf '  %-22s %s\n' "$target" "$what"
  done
