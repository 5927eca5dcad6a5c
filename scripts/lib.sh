# shellcheck shell=bash
# Shared by the scripts (sourced): `root` is the repository, `target` Cargo's target folder
# (CARGO_TARGET_DIR when set, made absolute), PATH with the engines' folder; and what the
# scripts that build other projects' programs from the Go module proxy need.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
# kwctl, spin and policy-server built for this project's sandbox live in ../shared/bin (where
# it exists, as the Makefile looks too); elsewhere a user's own, on PATH.
if [[ -d $root/../shared/bin ]]; then
  PATH="$(cd "$root/../shared/bin" && pwd):$PATH"
  export PATH
fi

# need_go WHO WHAT: stops, saying so, where Go is not installed (WHAT: what needs which Go).
need_go() {
  command -v go >/dev/null || {
    echo "$1: $2; install Go, then rerun" >&2
    exit 2
  }
}

# module_source WHO MODULE VERSION SUM: the module's source folder (read-only, in the Go module
# cache), after checking its hash against SUM, the one versions.env pins.
module_source() {
  local json dir sum
  # Outside any module, so no go.mod's requirements play a part.
  json=$(cd / && GOFLAGS=-mod=mod go mod download -json "$2@$3")
  dir=$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$json")
  sum=$(sed -n 's/^\t"Sum": "\(.*\)",$/\1/p' <<<"$json")
  if [[ $sum != "$4" ]]; then
    echo "$1: $2@$3 has hash $sum, versions.env pins $4" >&2
    exit 2
  fi
  echo "$dir"
}

# cargo_install_tool ARGS...: `cargo install` for the tools the tests drive (cargo-nextest,
# cargo-afl, wasm-bindgen-cli, cargo-cyclonedx), built without optimisation or debug info. On a
# new machine that halves their build (cargo-nextest: 872 s against more than 1,588 s at
# opt-level 1, measured side by side), and they run as fast where it counts: nextest spends its
# time waiting for the tests, the others handle one small module or one dependency graph.
cargo_install_tool() {
  CARGO_PROFILE_DEV_DEBUG=0 cargo install --debug "$@"
}
