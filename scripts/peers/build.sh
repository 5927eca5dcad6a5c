#!/usr/bin/env bash
# Builds the peers the CLI is compared with (BENCHMARKS.md, "Against the peers"), from the
# pinned releases in versions.env: the Kyverno CLI (kubectl-kyverno) and Gatekeeper's gator.
# Each is built from its release's module source as the Go module proxy serves it, with
# that release's own go.mod and go.sum (so with Kyverno's replace directive), the way their
# Makefiles build them, version stamped. The binaries go to $CARGO_TARGET_DIR/peers/bin
# (target/ by default) with a stamp of what built them, so a second call only checks the
# stamp. Prints the bin folder.
#
# Cold, on 2 busy cores, Kyverno takes most of the time (its module graph is large); GOCACHE
# and GOMODCACHE keep what was downloaded and compiled.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
source "$here/../lib.sh"
# shellcheck source=versions.env
source "$here/versions.env"
need_go peers/build.sh "Kyverno $KYVERNO_VERSION is built with Go 1.26.6 or later"

out=$target/peers
bin=$out/bin
# The stamp names the releases and hashes this script and versions.env, so an edit of the
# build (flags, sums) rebuilds.
script=$(cat "$here/build.sh" "$here/versions.env" | sha256sum | cut -c1-16)
stamp="kyverno=$KYVERNO_VERSION gatekeeper=$GATEKEEPER_VERSION script=$script $(go env GOVERSION)"
if [[ -f $out/stamp && "$(cat "$out/stamp")" == "$stamp" && -x $bin/kubectl-kyverno && -x $bin/gator ]]; then
  echo "$bin"
  exit 0
fi

source_of() { module_source peers/build.sh "$@"; }

mkdir -p "$bin"
rm -f "$out/stamp"
start=$(date +%s)
echo "peers/build.sh: building the Kyverno CLI $KYVERNO_VERSION and gator $GATEKEEPER_VERSION; the first time takes a while" >&2
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"

src=$(source_of github.com/kyverno/kyverno "$KYVERNO_VERSION" "$KYVERNO_SUM")
(cd "$src" && go build -trimpath \
  -ldflags "-s -w -X github.com/kyverno/kyverno/pkg/version.BuildVersion=$KYVERNO_VERSION" \
  -o "$bin/kubectl-kyverno" ./cmd/cli/kubectl-kyverno) >&2

src=$(source_of github.com/open-policy-agent/gatekeeper/v3 "$GATEKEEPER_VERSION" "$GATEKEEPER_SUM")
(cd "$src" && go build -trimpath \
  -ldflags "-s -w -X github.com/open-policy-agent/gatekeeper/v3/pkg/version.Version=$GATEKEEPER_VERSION" \
  -o "$bin/gator" ./cmd/gator) >&2

echo "$stamp" > "$out/stamp"
echo "peers/build.sh: built in $(( $(date +%s) - start )) s" >&2
echo "$bin"
