#!/usr/bin/env bash
# The one setup: installs what `make test` needs beyond rustup, make, a C compiler and git.
# `make test` runs it first (target `setup`), and so does .ci/run. Idempotent: each step checks
# first and does nothing when its tool is there at the right version, so a second run only
# checks. `make run` does not need it (cargo brings the toolchain of rust-toolchain.toml).
#
# One function per tool; to add one, write its function and call it from main at the end.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

# cargo-nextest is not in Cargo.lock: its version is pinned here.
NEXTEST_VERSION=0.9.151

log() { printf 'setup: %s\n' "$*"; }

# The version of a crate in Cargo.lock (the first entry of that name).
lock_version() {
  awk -v want="name = \"$1\"" '$0 == want { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

# The toolchain of rust-toolchain.toml with its targets and components: the one toolchain
# step, which every Make target that builds runs too. Nothing is downloaded when all is there.
rust_toolchain() { scripts/toolchain.sh; }

# Debian packages: the OCI registry of the push/pull test (docker-registry); the browser host's
# headless Chromium, its WebDriver and binaryen's wasm-opt; python3 for `make playground`'s
# server and the benchmark scripts; gzip and sha256sum. Installed through apt-get when running as
# root; otherwise one line naming what is missing and the command that installs it.
debian_packages() {
  local missing=()
  need() { command -v "$1" >/dev/null || missing+=("$2"); }
  need cc gcc
  need docker-registry docker-registry
  need chromium chromium
  need chromedriver chromium-driver
  need wasm-opt binaryen
  need python3 python3
  need wrk wrk       # the benchmark scripts (bench-spin, soak-spin, bench-policy-server)
  need gzip gzip
  need sha256sum coreutils
  need openssl openssl # scripts/signing.sh trust-config
  need shellcheck shellcheck # make lint
  need curl curl     # scripts/cluster/up.sh waits for each server with it
  need musl-gcc musl-tools # the native server's static binary (x86_64-unknown-linux-musl; ring's C)
  need h2load nghttp2-client # HTTP/2 load in the native server's benchmark (scripts/bench-native.sh)
  need hyperfine hyperfine # the audit's benchmark (scripts/bench-audit.sh) times whole commands
  ((${#missing[@]})) || return 0
  if [[ $(id -u) != 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
}

# Go builds cosign, actionlint, helm, crane and the control plane from the Go module proxy;
# their go.mod files ask for Go 1.26. Debian 12's golang-go is 1.19, which can neither build
# them nor fetch a newer toolchain, so Go is not installed from Debian: this step stops with
# what to install instead. A Go from 1.21 on fetches the toolchain a go.mod asks for unless
# GOTOOLCHAIN is `local`.
go_toolchain() {
  local version minor
  if ! version=$(go env GOVERSION 2>/dev/null); then
    echo "setup: no Go on PATH; the tools built from the Go module proxy need Go 1.26 or later: install it (the official release, not Debian 12's golang-go 1.19), then rerun" >&2
    exit 1
  fi
  minor=$(sed -n 's/^go1\.\([0-9]*\).*/\1/p' <<<"$version")
  if [[ -z $minor ]] || ((minor < 21)) || { ((minor < 26)) && [[ $(go env GOTOOLCHAIN) == local* ]]; }; then
    echo "setup: $version on PATH ($(command -v go)); the tools built from the Go module proxy need Go 1.26 or later (or a Go from 1.21 on with GOTOOLCHAIN=auto): install it, then rerun" >&2
    exit 1
  fi
}

# The test runner `make test` uses.
cargo_nextest() {
  [[ "$(cargo nextest --version 2>/dev/null | head -n1)" == "cargo-nextest $NEXTEST_VERSION"* ]] && return 0
  log "installing cargo-nextest $NEXTEST_VERSION"
  cargo_install_tool --force --locked cargo-nextest --version "$NEXTEST_VERSION"
}

# Coverage-guided fuzzing (make test ends with a short run of each target): cargo-afl, which
# builds its AFL++ when installed, at the version of the fuzz crate's `afl` dependency.
cargo_afl() {
  local version
  version=$(lock_version afl)
  [[ -n "$version" ]] || { echo "setup: no afl crate in Cargo.lock" >&2; exit 1; }
  [[ "$(cargo afl --version 2>/dev/null)" == *" $version"* ]] && return 0
  log "installing cargo-afl $version"
  cargo_install_tool --force --locked cargo-afl --version "$version" ||
    cargo_install_tool --force cargo-afl --version "$version"
}

# The browser host: wasm-bindgen-cli (wasm-bindgen, wasm-bindgen-test-runner) at exactly the
# version of the wasm-bindgen crate in Cargo.lock. Its own lock file may name a dependency
# version the registry no longer serves; then it is installed unlocked.
wasm_bindgen_cli() {
  local version
  version=$(lock_version wasm-bindgen)
  [[ -n "$version" ]] || { echo "setup: no wasm-bindgen crate in Cargo.lock" >&2; exit 1; }
  [[ "$(wasm-bindgen --version 2>/dev/null)" == "wasm-bindgen $version" ]] && return 0
  log "installing wasm-bindgen-cli $version"
  cargo_install_tool --force --locked wasm-bindgen-cli --version "$version" ||
    cargo_install_tool --force wasm-bindgen-cli --version "$version"
}

# `make push` signs with cosign and attaches a CycloneDX SBOM made by cargo-cyclonedx; the
# signing test runs both. scripts/tools.sh pins their versions and builds each once: cosign
# with Go from the Go module proxy, cargo-cyclonedx with cargo install --locked.
cosign() { scripts/tools.sh cosign >/dev/null; }
cargo_cyclonedx() { scripts/tools.sh cargo-cyclonedx >/dev/null; }

# `make lint` checks the release workflow with actionlint, built from the Go module proxy at
# the version scripts/tools.sh pins.
actionlint() { scripts/tools.sh actionlint >/dev/null; }

# The CLI's chart test renders a chart with the real `helm template`: helm built from the Go
# module proxy at the release scripts/tools.sh pins (a few minutes cold, once per version).
helm() { scripts/tools.sh helm >/dev/null; }

# The image test builds the native server's image and pushes it to a loopback registry with
# crane (no Docker engine), built from the Go module proxy at the release scripts/tools.sh pins.
crane() { scripts/tools.sh crane >/dev/null; }

# The Kubernetes control plane the cluster tests run against (etcd, kube-apiserver,
# kube-controller-manager, kubectl) and the CRDs users apply, built and fetched from the Go
# module proxy at the versions of scripts/cluster/versions.env; kept under target/cluster.
cluster_tools() {
  scripts/cluster/build.sh >/dev/null
  scripts/cluster/crds.sh >/dev/null
}

# kwctl and spin are the engines the end-to-end tests drive; they are not installed from a
# package registry, so the script only checks them (the Makefile also looks in ../shared/bin).
engines() {
  local missing=()
  command -v kwctl >/dev/null || missing+=("kwctl 1.35.0")
  command -v spin >/dev/null || missing+=("spin 4.0.2")
  command -v policy-server >/dev/null || missing+=("policy-server 1.35.0")
  ((${#missing[@]})) || return 0
  local IFS=,
  echo "setup: not on PATH: ${missing[*]}; install their releases (Kubewarden's kwctl and policy-server, Fermyon's spin) into a folder on PATH" >&2
  exit 1
}

# The steps, in order. Inside a function, so bash reads the whole file before running any of
# it (a script edited while it runs would otherwise go on with the new text at the old offset).
#
# On a new machine the tools built with Go (cosign, actionlint, helm, crane, the control plane:
# about 20 minutes, much of it downloading modules) build in the background while cargo installs
# its tools in the foreground: one's downloads and links overlap the other's compiles. The Go
# builds' output goes to a log that is printed when they end (in full when they fail).
main() {
  rust_toolchain
  debian_packages
  engines
  go_toolchain
  go_log=$(mktemp "${TMPDIR:-/tmp}/setup-go.XXXXXX")
  (
    cosign
    actionlint
    helm
    crane
    cluster_tools
  ) >"$go_log" 2>&1 &
  go_pid=$!
  # A cargo install that fails ends the script; the Go builds end with it.
  trap 'kill "$go_pid" 2>/dev/null || true; rm -f "$go_log"' EXIT
  cargo_nextest
  cargo_afl
  wasm_bindgen_cli
  cargo_cyclonedx
  if ! wait "$go_pid"; then
    cat "$go_log" >&2
    echo "setup: the tools built with Go failed (their output is above)" >&2
    exit 1
  fi
  cat "$go_log"
  rm -f "$go_log"
  trap - EXIT
  log "done"
}

main "$@"
