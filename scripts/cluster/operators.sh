#!/usr/bin/env bash
# The two operators users run next to the policy, built from their module sources on the Go
# module proxy at the versions of versions.env (the releases whose CRDs crds.sh copies), for
# tests/hosts/tests/operators.rs, which runs them out of cluster against the test control plane:
#
#   kubewarden-controller  KUBEWARDEN_CONTROLLER_VERSION's ./cmd/controller. Its go.mod names
#                          the module github.com/kubewarden/adm-controller and has replace
#                          directives, so `go install MODULE/cmd/controller@VERSION` refuses it:
#                          the source is copied to a scratch folder and built there with its
#                          own go.mod and go.sum (as scripts/compare-audit-scanner.sh builds
#                          ./cmd/audit-scanner). One change, and only one: the webhook server's
#                          listen host, which the release hard-wires to every address (its
#                          --webhook-server-port sets only the port), is read from the
#                          environment variable KUBEWARDEN_CONTROLLER_WEBHOOK_HOST (unset: every
#                          address, as released), so the test binds it to 127.0.0.1.
#   spin-operator          SPIN_OPERATOR_VERSION's ./cmd, unchanged, with the version ldflags of
#                          its own Makefile (its webhooks are off by default: --enable-webhooks).
#
# Beside the binaries it copies what the test applies as users apply it, from the same sources:
# kubewarden-controller's Helm charts (charts/kubewarden-controller: the CA Secret, the
# controller's own webhook configurations, the flags its Deployment passes; charts/
# kubewarden-defaults: the default PolicyServer) and spin-operator's release manifests
# (config/samples/spin-shim-executor.yaml and spin-runtime-class.yaml, which its release
# publishes as spin-operator.shim-executor.yaml and spin-operator.runtime-class.yaml).
#
# Everything goes to $CARGO_TARGET_DIR/cluster/operators-<versions>/ with a stamp, so a second
# call only checks it (about 10 ms); callers at the same time wait for one build (flock).
# Prints that folder. Cold (an empty Go build cache), on 2 busy cores: about 11 minutes, half
# of it each; warm: 7 s.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=versions.env
source "$here/versions.env"
need_go cluster/operators.sh "kubewarden-controller $KUBEWARDEN_CONTROLLER_VERSION is built with Go 1.26 or later"

out=$target/cluster/operators-kubewarden-controller-$KUBEWARDEN_CONTROLLER_VERSION-spin-operator-$SPIN_OPERATOR_VERSION
# One build at a time (the tests that call this run in parallel): a second caller waits for
# the first, then finds the stamp.
mkdir -p "$target/cluster"
exec 9> "$target/cluster/operators.lock"
flock 9
# The stamp names the releases, their hashes, Go and this script (the patch lives here).
stamp="kubewarden-controller=$KUBEWARDEN_CONTROLLER_VERSION $KUBEWARDEN_CONTROLLER_SUM spin-operator=$SPIN_OPERATOR_VERSION $SPIN_OPERATOR_SUM $(go env GOVERSION) script=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"
if [[ -f $out/stamp && "$(cat "$out/stamp")" == "$stamp" && -x $out/kubewarden-controller && -x $out/spin-operator ]]; then
  echo "$out"
  exit 0
fi

say() { echo "cluster/operators.sh: $*" >&2; }
source_of() { module_source cluster/operators.sh "$@"; }
kw=$(source_of github.com/kubewarden/kubewarden-controller "$KUBEWARDEN_CONTROLLER_VERSION" "$KUBEWARDEN_CONTROLLER_SUM")
spin=$(source_of github.com/spinkube/spin-operator "$SPIN_OPERATOR_VERSION" "$SPIN_OPERATOR_SUM")

rm -rf "$out"
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/operators.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
build_flags=(-trimpath)
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"

# --- kubewarden-controller ---
say "building kubewarden-controller $KUBEWARDEN_CONTROLLER_VERSION from the Go module proxy; the first time takes a few minutes"
start=$SECONDS
mkdir -p "$tmp/kw"
cp -R "$kw/." "$tmp/kw/"
chmod -R u+w "$tmp/kw"
main=$tmp/kw/cmd/controller/main.go
wanted='			Port:         mgrOpts.WebhookServerPort,'
if [[ $(grep -cxF "$wanted" "$main") != 1 ]]; then
  say "cmd/controller/main.go of $KUBEWARDEN_CONTROLLER_VERSION no longer sets the webhook server's port where the patch expects it; revisit the patch"
  exit 2
fi
sed -i "s|^$wanted\$|$wanted\n\t\t\tHost:         os.Getenv(\"KUBEWARDEN_CONTROLLER_WEBHOOK_HOST\"),|" "$main"
(cd "$tmp/kw" && go build "${build_flags[@]}" -ldflags "-s -w" -o "$out/kubewarden-controller" ./cmd/controller) >&2
mkdir -p "$out/kubewarden-charts"
cp -R "$kw/charts/kubewarden-controller" "$kw/charts/kubewarden-defaults" "$out/kubewarden-charts/"
say "kubewarden-controller built in $((SECONDS - start)) s"

# --- spin-operator ---
say "building spin-operator $SPIN_OPERATOR_VERSION from the Go module proxy"
start=$SECONDS
mkdir -p "$tmp/spin"
cp -R "$spin/." "$tmp/spin/"
chmod -R u+w "$tmp/spin"
v=github.com/prometheus/common/version
(cd "$tmp/spin" && go build "${build_flags[@]}" \
  -ldflags "-s -w -X $v.Version=$SPIN_OPERATOR_VERSION -X $v.Branch=$SPIN_OPERATOR_VERSION" \
  -o "$out/spin-operator" ./cmd) >&2
mkdir -p "$out/spin-operator-samples"
cp "$spin/config/samples/spin-shim-executor.yaml" "$spin/config/samples/spin-runtime-class.yaml" \
  "$out/spin-operator-samples/"
say "spin-operator built in $((SECONDS - start)) s"

chmod -R u+w "$out"
echo "$stamp" > "$out/stamp"
echo "$out"
