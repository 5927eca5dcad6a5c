#!/usr/bin/env bash
# The one toolchain step: the toolchain of rust-toolchain.toml with its targets and components.
# Every Make target that builds runs it first (an order-only prerequisite), and so does
# scripts/setup.sh, so the first `make run` works where the toolchain is missing, or installed
# without the wasm targets, with rustup's automatic install off (RUSTUP_AUTO_INSTALL=0, as on a
# new machine of this project's kind). Idempotent: where everything is there it reads the file,
# downloads nothing and takes well under a second.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"

command -v rustup >/dev/null || {
  echo "toolchain: rustup is not on PATH: install it (rustup, the Rust installer), then rerun" >&2
  exit 2
}
# `rustup toolchain install` with no name installs the toolchain of rust-toolchain.toml with the
# targets and components the file lists (rustup 1.28.1 and later); an earlier rustup does that
# on `rustup show`. --quiet keeps it to one line of progress per download.
rustup --quiet toolchain install >/dev/null || rustup show >/dev/null
