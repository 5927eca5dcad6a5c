#!/usr/bin/env bash
# Builds the Kubernetes control plane the tests run against, from the pinned releases in
# versions.env: etcd, kube-apiserver, kube-controller-manager and kubectl, and our commands
# (cmd/: webhooks, createbench, gowebhook (the Go yardstick of scripts/bench-native.sh), and
# kubectlyaml, kubectl's own reading of manifest files, the reference of crates/yaml's
# differential test, and celcost, cel-go's cost estimates of the expressions `export cel`
# writes), with the Go module proxy as the only source. The binaries go to
# $CARGO_TARGET_DIR/cluster/<version>/bin (target/ by default) with a stamp of what built
# them, so a second call only checks the stamp.
# Prints the bin folder.
#
# Cold, on 2 cores, this takes most of its time compiling Kubernetes (see BENCHMARKS.md);
# GOCACHE keeps the compiled packages between work trees.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
source "$here/../lib.sh"
# shellcheck source=versions.env
source "$here/versions.env"
need_go cluster/build.sh "Kubernetes $KUBERNETES_VERSION is built with Go 1.26 or later"

# go.mod must say what versions.env says, or the stamp would lie.
grep -q "^	k8s.io/kubernetes $KUBERNETES_VERSION\$" "$here/go.mod" || {
  echo "cluster/build.sh: go.mod does not require k8s.io/kubernetes $KUBERNETES_VERSION (versions.env)" >&2
  exit 2
}
grep -q "^	go.etcd.io/etcd/server/v3 $ETCD_VERSION\$" "$here/go.mod" || {
  echo "cluster/build.sh: go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION (versions.env)" >&2
  exit 2
}
if grep "=> k8s.io/" "$here/go.mod" | grep -v " $STAGING_VERSION\$" >&2; then
  echo "cluster/build.sh: the k8s.io/* replaces above are not at $STAGING_VERSION (versions.env)" >&2
  exit 2
fi

out=$target/cluster/$KUBERNETES_VERSION
bin=$out/bin
# The stamp names the releases and hashes our module files and commands, so an edit of any
# rebuilds.
sources=$(cat "$here/go.mod" "$here/go.sum" "$here"/cmd/*/*.go | sha256sum | cut -c1-16)
stamp="kubernetes=$KUBERNETES_VERSION etcd=$ETCD_VERSION sources=$sources $(go env GOVERSION)"
if [[ -f $out/stamp && "$(cat "$out/stamp")" == "$stamp" ]]; then
  complete=1
  for b in etcd webhooks createbench gowebhook kubectlyaml celcost kube-apiserver kube-controller-manager kubectl; do [[ -x $bin/$b ]] || complete=0; done
  if (( complete )); then echo "$bin"; exit 0; fi
fi

echo "cluster/build.sh: building etcd $ETCD_VERSION and Kubernetes $KUBERNETES_VERSION (kube-apiserver, kube-controller-manager, kubectl); the first time takes a while" >&2
mkdir -p "$bin"
rm -f "$out/stamp"
start=$(date +%s)
major=${KUBERNETES_VERSION#v}; major=${major%%.*}
minor=${KUBERNETES_VERSION#v*.}; minor=${minor%%.*}
# The version variables Kubernetes' own release build sets (hack/lib/version.sh), so that
# `kubectl version` and the API server's /version name the release, not v0.0.0-master.
ver=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ver+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
cd "$here"
# -mod=readonly: go.sum is committed and complete; a build never edits it.
CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -ldflags "-s -w$ver" -o "$bin/" \
  ./cmd/etcd ./cmd/webhooks ./cmd/createbench ./cmd/gowebhook ./cmd/kubectlyaml ./cmd/celcost \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kubectl >&2
echo "$stamp" > "$out/stamp"
echo "cluster/build.sh: built in $(( $(date +%s) - start )) s" >&2
echo "$bin"
