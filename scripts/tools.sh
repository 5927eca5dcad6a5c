#!/usr/bin/env bash
# The release tools `make push` uses, at pinned versions (this file is the one place they are
# pinned; docs/development.md names them too). Each is built from source by its own ecosystem's client
# and kept, so a second call is quick. Prints the tool's path.
#
#   scripts/tools.sh cosign            cosign: the one on PATH when it is the pinned version,
#                                      else built with `go install` from the Go module proxy
#   scripts/tools.sh cargo-cyclonedx   cargo-cyclonedx, `cargo install --locked` from the crate registry
#   scripts/tools.sh actionlint        actionlint (make lint), built with `go install`
#   scripts/tools.sh helm              helm (the CLI's chart test renders a chart with `helm
#                                      template`), built with `go install`
#   scripts/tools.sh crane             crane (go-containerregistry: scripts/image.sh builds and
#                                      pushes the server's image with it, no Docker engine),
#                                      built with `go install`
#   scripts/tools.sh versions          the pinned versions, one `name version` a line
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

COSIGN_VERSION=v3.1.3
CARGO_CYCLONEDX_VERSION=0.5.9
ACTIONLINT_VERSION=v1.7.12
HELM_VERSION=v4.3.2
CRANE_VERSION=v0.22.1

# cosign goes into a folder of its own per version, outside the work tree, so fresh clones
# (CI's) reuse it; RESOURCE_LIMITS_TOOLS moves it.
TOOLS_DIR=${RESOURCE_LIMITS_TOOLS:-$HOME/.cache/resource-limits/tools}

# go_tool NAME VERSION PACKAGE [LDFLAGS]: the tool built once with `go install` into a folder of
# its own per version; prints its path.
go_tool() {
  local bin=$TOOLS_DIR/$1-$2/$1
  if [[ ! -x $bin ]]; then
    need_go tools.sh "$1 $2 is built with Go (1.25 or later)"
    echo "tools.sh: building $1 $2" >&2
    mkdir -p "$TOOLS_DIR"
    local tmp
    tmp=$(mktemp -d "$TOOLS_DIR/build.XXXXXX")
    GOBIN=$tmp GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install -trimpath -ldflags "${4:--s -w}" "$3@$2" >&2
    mkdir -p "$(dirname "$bin")"
    mv "$tmp/$1" "$bin"
    rm -rf "$tmp"
  fi
  echo "$bin"
}

cosign() {
  # A cosign already on PATH at the pinned version (a user's, or a CI runner's installer) is used
  # as it is: building one takes minutes.
  local found
  if found=$(type -P cosign) && [[ "$("$found" version 2>/dev/null)" == *"GitVersion:"*" $COSIGN_VERSION"* ]]; then
    echo "$found"
    return
  fi
  # -trimpath and the version ldflag as cosign's own release build sets it, so that
  # `cosign version` names the pinned version.
  go_tool cosign "$COSIGN_VERSION" github.com/sigstore/cosign/v3/cmd/cosign \
    "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION"
}

cargo_cyclonedx() {
  local bin=${CARGO_HOME:-$HOME/.cargo}/bin/cargo-cyclonedx
  if [[ "$("$bin" cyclonedx --version 2>/dev/null)" != *" $CARGO_CYCLONEDX_VERSION" ]]; then
    echo "tools.sh: installing cargo-cyclonedx $CARGO_CYCLONEDX_VERSION" >&2
    cargo_install_tool --locked --force cargo-cyclonedx --version "$CARGO_CYCLONEDX_VERSION" >&2
  fi
  echo "$bin"
}

case "${1:-}" in
  cosign) cosign ;;
  cargo-cyclonedx) cargo_cyclonedx ;;
  actionlint) go_tool actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint \
    "-s -w -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" ;;
  # The version ldflag as helm's own Makefile sets it, so that `helm version` names the release.
  helm) go_tool helm "$HELM_VERSION" helm.sh/helm/v4/cmd/helm \
    "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" ;;
  # The version ldflag as crane's own release build sets it, so that `crane version` names it.
  crane) go_tool crane "$CRANE_VERSION" github.com/google/go-containerregistry/cmd/crane \
    "-s -w -X github.com/google/go-containerregistry/cmd/crane/cmd.Version=$CRANE_VERSION" ;;
  versions) printf 'cosign %s\ncargo-cyclonedx %s\nactionlint %s\nhelm %s\ncrane %s\n' "$COSIGN_VERSION" "$CARGO_CYCLONEDX_VERSION" "$ACTIONLINT_VERSION" "$HELM_VERSION" "$CRANE_VERSION" ;;
  *) echo "usage: $0 cosign|cargo-cyclonedx|actionlint|helm|crane|versions" >&2; exit 2 ;;
esac
