#!/usr/bin/env bash
# The release tools `make push` uses, at pinned versions (this file is the one place they are
# pinned; the README names them too). Each is built from source by its own ecosystem's client
# and kept, so a second call is quick. Prints the tool's path.
#
#   scripts/tools.sh cosign            cosign, built with `go install` from the Go module proxy
#   scripts/tools.sh cargo-cyclonedx   cargo-cyclonedx, `cargo install --locked` from the crate registry
#   scripts/tools.sh versions          the pinned versions, one `name version` a line
set -euo pipefail

COSIGN_VERSION=v3.1.3
CARGO_CYCLONEDX_VERSION=0.5.9

# cosign goes into a folder of its own per version, outside the work tree, so fresh clones
# (CI's) reuse it; RESOURCE_LIMITS_TOOLS moves it.
TOOLS_DIR=${RESOURCE_LIMITS_TOOLS:-$HOME/.cache/resource-limits/tools}

cosign() {
  local bin=$TOOLS_DIR/cosign-$COSIGN_VERSION/cosign
  if [[ ! -x $bin ]]; then
    command -v go >/dev/null || {
      echo "tools.sh: cosign $COSIGN_VERSION is built with Go (1.25 or later); install Go, then rerun" >&2
      exit 2
    }
    echo "tools.sh: building cosign $COSIGN_VERSION (a few minutes the first time)" >&2
    mkdir -p "$TOOLS_DIR"
    local tmp
    tmp=$(mktemp -d "$TOOLS_DIR/build.XXXXXX")
    # -trimpath and the version ldflag as cosign's own release build sets it, so that
    # `cosign version` names the pinned version.
    GOBIN=$tmp GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install -trimpath \
      -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" \
      "github.com/sigstore/cosign/v3/cmd/cosign@$COSIGN_VERSION" >&2
    mkdir -p "$(dirname "$bin")"
    mv "$tmp/cosign" "$bin"
    rm -rf "$tmp"
  fi
  echo "$bin"
}

cargo_cyclonedx() {
  local bin=${CARGO_HOME:-$HOME/.cargo}/bin/cargo-cyclonedx
  if [[ "$("$bin" cyclonedx --version 2>/dev/null)" != *" $CARGO_CYCLONEDX_VERSION" ]]; then
    echo "tools.sh: installing cargo-cyclonedx $CARGO_CYCLONEDX_VERSION" >&2
    cargo install --locked --force cargo-cyclonedx --version "$CARGO_CYCLONEDX_VERSION" >&2
  fi
  echo "$bin"
}

case "${1:-}" in
  cosign) cosign ;;
  cargo-cyclonedx) cargo_cyclonedx ;;
  versions) printf 'cosign %s\ncargo-cyclonedx %s\n' "$COSIGN_VERSION" "$CARGO_CYCLONEDX_VERSION" ;;
  *) echo "usage: $0 cosign|cargo-cyclonedx|versions" >&2; exit 2 ;;
esac
