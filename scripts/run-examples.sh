#!/usr/bin/env bash
# Evaluates every pair of examples/examples.txt and prints each verdict, through kwctl when it
# is on PATH, else through wapc + wasmtime-provider (the engine policy-server embeds); the first
# line names the engine. The runner is tests/hosts/src/bin/run-examples.rs.
# Usage: scripts/run-examples.sh POLICY.wasm (the annotated policy when kwctl is on PATH).
# RUN_EXAMPLES_ENGINE=kwctl|wapc chooses the engine.
set -euo pipefail
policy=${1:?usage: $0 POLICY.wasm}
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$root"
exec "${CARGO:-cargo}" run -p host-tests --bin run-examples -- "$policy"
