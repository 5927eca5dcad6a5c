#!/usr/bin/env bash
# `make bench-peers`: the CLI against the Kyverno CLI and gator over the same 10,000
# generated manifests, with each peer's library rule and ours set to the same rule: wall time
# and verdict agreement, every difference listed with its reason (BENCHMARKS.md, "Against
# the peers"). Builds `resource-limits` (release) and the peers (build.sh, pinned in
# versions.env), then runs compare.py; arguments are passed on to it (--count, --seed,
# --runs). Manifests, outputs and differences.txt go to $CARGO_TARGET_DIR/peers.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
source "$here/../lib.sh"

cargo build --release -p resource-limits-cli --manifest-path "$root/Cargo.toml" >&2
bin=$("$here/build.sh")
exec python3 "$here/compare.py" --ours "$target/release/resource-limits" --bin "$bin" \
  --out "$target/peers" "$@"
