#!/usr/bin/env bash
# `make bench-audit` (BENCHMARKS.md, "Audit"): `resource-limits audit` over a cluster of
# AUDIT_DEPLOYMENTS Deployments (replicas 0, default 10,000) in AUDIT_NAMESPACES namespaces
# (default 50), against `kubectl get deployments -A -o json` on the same control plane, in one
# run: hyperfine times both (AUDIT_RUNS runs each, default 5), GNU time reports the audit's
# peak RSS. The control plane (scripts/cluster/up.sh, no webhook) runs in a scratch folder and
# is stopped on exit. The audit lists all nine kinds (the other eight are empty here) and
# judges every Deployment; kubectl only lists and prints one kind.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.sh
source scripts/lib.sh
deployments=${AUDIT_DEPLOYMENTS:-10000}
namespaces=${AUDIT_NAMESPACES:-50}
runs=${AUDIT_RUNS:-5}
settings=$root/examples/settings/bounded.json

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-audit.XXXXXX")
dir=$tmp/cluster
cleanup() { CLUSTER_DIR=$dir scripts/cluster/down.sh >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT

cargo build -q --release -p resource-limits-cli
cli=$target/release/resource-limits
CLUSTER_DIR=$dir WEBHOOK=none scripts/cluster/up.sh >"$tmp/up.log" 2>&1
export KUBECONFIG=$dir/admin.kubeconfig
kubectl=$(scripts/cluster/build.sh)/kubectl

echo "bench-audit: creating $deployments Deployments in $namespaces namespaces" >&2
python3 - "$deployments" "$namespaces" >"$tmp/objects.json" <<'PY'
import json, sys
n, spaces = int(sys.argv[1]), int(sys.argv[2])
items = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"audit-{s}"}} for s in range(spaces)]
for i in range(n):
    # Every fifth lacks its memory limit (a default due), every seventh is over the cpu bound;
    # the rest pass (limit 300m, three times the request: within maxLimitRequestRatio 4).
    limits = {"cpu": "8" if i % 7 == 0 else "300m"}
    if i % 5:
        limits["memory"] = "256Mi"
    items.append({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"app-{i}", "namespace": f"audit-{i % spaces}", "labels": {"app": f"app-{i}"}},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": f"app-{i}"}},
                 "template": {"metadata": {"labels": {"app": f"app-{i}"}},
                              "spec": {"containers": [{"name": "app", "image": f"registry.example.com/app:{i}",
                                                       "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": limits}}]}}}})
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
PY
start=$SECONDS
"$kubectl" create -f "$tmp/objects.json" >/dev/null
echo "bench-audit: created in $((SECONDS - start)) s" >&2
count=$("$kubectl" get deployments -A --no-headers | wc -l)
[[ $count == "$deployments" ]] || { echo "bench-audit: $count Deployments, not $deployments" >&2; exit 1; }

# The audit's exit code is 1 (some would be refused): hyperfine is told to ignore it.
hyperfine --warmup 1 --runs "$runs" -i --export-json "$tmp/times.json" \
  -n "kubectl get deployments -A -o json" "'$kubectl' get deployments -A -o json > /dev/null" \
  -n "resource-limits audit" "'$cli' audit -s '$settings' -o json > /dev/null"
/usr/bin/time -v "$cli" audit -s "$settings" >"$tmp/audit.txt" 2>"$tmp/time.txt" || true
tail -n 1 "$tmp/audit.txt"
python3 - "$tmp/times.json" "$tmp/time.txt" <<'PY'
import json, sys
t = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
k, a = t["kubectl get deployments -A -o json"], t["resource-limits audit"]
rss = next(int(l.split(":")[1]) for l in open(sys.argv[2]) if "Maximum resident set size" in l)
print(f"kubectl get: mean {k['mean']:.2f} s; audit: mean {a['mean']:.2f} s; audit/kubectl {a['mean'] / k['mean']:.2f} (target at most 2.00: {'met' if a['mean'] <= 2 * k['mean'] else 'NOT met'})")
print(f"audit peak RSS: {rss / 1024:.1f} MiB")
PY
