#!/usr/bin/env bash
# The CustomResourceDefinitions users apply next to the policy, copied out of the pinned module
# sources on the Go module proxy (versions.env) into $CARGO_TARGET_DIR/cluster/crds: Kubewarden's
# (ClusterAdmissionPolicy, AdmissionPolicy, their groups, PolicyServer), SpinKube's (SpinApp,
# SpinAppExecutor), cert-manager's (Certificate, Issuer, ...; examples/spinkube/tls.yaml
# uses them) and the policy reports' (OpenReports' Report, wgpolicyk8s.io's PolicyReport:
# `resource-limits audit --report` writes them). Prints the folder; `kubectl apply -f` it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=versions.env
source "$here/versions.env"
out=$target/cluster/crds
stamp="$KUBEWARDEN_CONTROLLER_VERSION $SPIN_OPERATOR_VERSION $CERT_MANAGER_VERSION $OPENREPORTS_VERSION $WG_POLICY_VERSION"
if [[ -f $out/stamp && "$(cat "$out/stamp")" == "$stamp" ]]; then echo "$out"; exit 0; fi

source_of() { module_source cluster/crds.sh "$@"; }
rm -rf "$out"
mkdir -p "$out"
kw=$(source_of github.com/kubewarden/kubewarden-controller "$KUBEWARDEN_CONTROLLER_VERSION" "$KUBEWARDEN_CONTROLLER_SUM")
cp "$kw"/charts/kubewarden-crds/templates/crds/policies.kubewarden.io_*.yaml "$out/"
spin=$(source_of github.com/spinkube/spin-operator "$SPIN_OPERATOR_VERSION" "$SPIN_OPERATOR_SUM")
cp "$spin"/config/crd/bases/core.spinkube.dev_*.yaml "$out/"
cm=$(source_of github.com/cert-manager/cert-manager "$CERT_MANAGER_VERSION" "$CERT_MANAGER_SUM")
cp "$cm"/deploy/crds/cert-manager.io_*.yaml "$out/"
reports=$(source_of github.com/openreports/reports-api "$OPENREPORTS_VERSION" "$OPENREPORTS_SUM")
cp "$reports"/config/crd/openreports.io_*.yaml "$out/"
wg=$(source_of sigs.k8s.io/wg-policy-prototypes "$WG_POLICY_VERSION" "$WG_POLICY_SUM")
cp "$wg"/policy-report/crd/v1alpha2/wgpolicyk8s.io_*.yaml "$out/"
chmod u+w "$out"/*.yaml
# Helm templates must not slip through as CRDs: a template would not apply.
if grep -l '{{' "$out"/*.yaml >&2; then echo "cluster/crds.sh: the files above are templates" >&2; exit 2; fi
echo "$stamp" > "$out/stamp"
echo "$out"
