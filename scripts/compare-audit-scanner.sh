#!/usr/bin/env bash
# `resource-limits audit --report openreports` against Kubewarden's own audit-scanner, on one
# control plane with policy-server serving our policy: the reports each writes, read back with
# kubectl, compared object by object; every difference must be one the table `known` below
# lists with its reason, or the script fails.
#
# - audit-scanner is built from kubewarden-controller's module source on the Go module proxy
#   (KUBEWARDEN_CONTROLLER_VERSION and its hash in scripts/cluster/versions.env). Its go.mod
#   names the module github.com/kubewarden/adm-controller and has replace directives, so
#   `go install MODULE/cmd/audit-scanner@VERSION` refuses it: the source is copied to a scratch
#   folder and built there with its own go.mod and go.sum. The binary is kept in
#   $CARGO_TARGET_DIR/peers/audit-scanner-VERSION/ with a stamp, so a second run only checks.
# - The control plane is scripts/cluster/up.sh's, in a scratch folder, stopped on exit. The
#   workloads are created first, with no webhook (as in a cluster that predates the policy:
#   some of them the policy would refuse), then scripts/cluster/webhook.sh starts policy-server
#   (out of cluster, on loopback, with the cluster CA's certificate) serving
#   annotated-policy.wasm as `clusterwide-resource-limits`, and registers its webhooks.
# - What audit-scanner reads to find a policy (internal/audit-scanner/policies/client.go):
#   the ClusterAdmissionPolicy (examples/cluster-admission-policy.yaml, backgroundAudit true,
#   rules with CREATE), with status.policyStatus `active` (which the controller sets; here
#   patched into the status subresource), the PolicyServer it names (`default`) and exactly one
#   Service in the Kubewarden namespace labelled app.kubernetes.io/instance=policy-server-default
#   (with a port). With --policy-server-url it then calls URL/audit/clusterwide-resource-limits,
#   so the Service only has to exist: nothing routes through it.
# - Both tools run COMPARE_RUNS times (default 3), in alternating order, each run timed (wall
#   clock), after one untimed list of every CRD's resources (see below); the reports compared
#   are those of the last round.
#
# KEEP_OUTPUT=DIR keeps what the run wrote there (audit-scanner's log, ours' output, both
# sets of reports as read back, the cluster scripts' log).
#
# Prints the table (per object: audit-scanner's result and message, ours, whether they
# agree), the result fields report readers filter by (source, category, severity), which
# objects each reported, the counts and the times. Exit 0 when every difference is in
# `known`, 1 when one is not, 2 when a tool fails to run (or a setup step's own code).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.sh
source scripts/lib.sh
# shellcheck source=cluster/versions.env
source scripts/cluster/versions.env
need_go compare-audit-scanner.sh "audit-scanner $KUBEWARDEN_CONTROLLER_VERSION is built with Go 1.26"

policy=$root/examples/cluster-admission-policy.yaml
policy_name=resource-limits
policy_id=clusterwide-$policy_name
settings=$root/examples/settings/bounded.json

# The differences this comparison expects, one a line: CODE<TAB>reason. The comparison gives
# each difference it finds a code; one whose code is not here fails the run.
known=$(cat <<'KNOWN'
owned	audit-scanner audits every object of the kinds the policy's rules name, so it also reports what a controller owns (a Deployment's ReplicaSet and its Pods); ours judges the owner and counts what it owns under it, since the owner's template is what a fix changes
pass-message	on a pass, audit-scanner's message is the admission response's status message, which policy-server leaves empty when it allows; ours writes `fits the policy's settings` (docs/cli.md): same result, different message
defaults	audit-scanner reads only `allowed`: policy-server admits the object with the patch that adds the defaults, so an object that lacks what a default would add passes there; ours reports it as `warn`, with what it lacks (what protect mode would add)
source	each tool names itself as the results' source (`kubewarden`, `resource-limits`), so a report reader tells the two apart
KNOWN
)

say() { echo "compare-audit-scanner: $*" >&2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/compare-audit-scanner.XXXXXX")
dir=$tmp/cluster
log=$tmp/log
: > "$log"
differs=0 # set once the comparison found a difference the table does not list
cleanup() {
  status=$?
  CLUSTER_DIR=$dir scripts/cluster/down.sh >>"$log" 2>&1 || true
  if [[ -n ${KEEP_OUTPUT:-} ]]; then
    mkdir -p "$KEEP_OUTPUT"
    cp "$tmp"/*.log "$tmp"/*.json "$tmp"/ours.* "$log" "$KEEP_OUTPUT/" 2>/dev/null || true
  fi
  if [[ $status != 0 && $differs == 0 ]]; then
    say "failed; the last lines of its log:"
    tail -n 40 "$log" >&2 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- audit-scanner, from the module source ---
scanner_dir=$target/peers/audit-scanner-$KUBEWARDEN_CONTROLLER_VERSION
scanner=$scanner_dir/audit-scanner
stamp="kubewarden-controller=$KUBEWARDEN_CONTROLLER_VERSION sum=$KUBEWARDEN_CONTROLLER_SUM $(go env GOVERSION)"
if [[ -x $scanner && -f $scanner_dir/stamp && "$(cat "$scanner_dir/stamp")" == "$stamp" ]]; then
  say "audit-scanner $KUBEWARDEN_CONTROLLER_VERSION already built ($scanner)"
else
  say "building audit-scanner $KUBEWARDEN_CONTROLLER_VERSION from the Go module proxy; the first time takes a few minutes"
  src=$(module_source compare-audit-scanner.sh github.com/kubewarden/kubewarden-controller \
    "$KUBEWARDEN_CONTROLLER_VERSION" "$KUBEWARDEN_CONTROLLER_SUM")
  mkdir -p "$scanner_dir" "$tmp/src"
  rm -f "$scanner_dir/stamp"
  cp -R "$src/." "$tmp/src/"
  chmod -R u+w "$tmp/src"
  start=$SECONDS
  (cd "$tmp/src" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
    go build -trimpath -ldflags "-s -w" -o "$scanner" ./cmd/audit-scanner) >&2
  rm -rf "$tmp/src"
  echo "$stamp" > "$scanner_dir/stamp"
  say "audit-scanner built in $((SECONDS - start)) s"
fi

# --- ours, and the policy policy-server serves (each a no-op when up to date) ---
cargo build -q -p resource-limits-cli
cli=$target/debug/resource-limits
make -s annotated-policy.wasm >&2

# --- the control plane, the CRDs, the workloads ---
say "starting the control plane (Kubernetes $KUBERNETES_VERSION) in $dir"
CLUSTER_DIR=$dir HOST=kubewarden WEBHOOK=none SETTINGS=$settings scripts/cluster/up.sh >>"$log" 2>&1
export KUBECONFIG=$dir/admin.kubeconfig
bin=$(scripts/cluster/build.sh 2>>"$log")
kubectl() { "$bin/kubectl" "$@"; }
crds=$(scripts/cluster/crds.sh 2>>"$log")
kubectl apply --server-side -f "$crds" >>"$log"
kubectl wait --for condition=Established --timeout 60s crd --all >>"$log"

# Two namespaces: in audit-a a bare Pod that fits the settings, one without resources (it
# lacks what the defaults would add), one over the bounds; in audit-b a Deployment without
# resources (kube-controller-manager makes its ReplicaSet and Pod) and a suspended CronJob
# over the bounds (suspended: no Job appears during the run).
kubectl apply -f - >>"$log" <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: audit-a}
---
apiVersion: v1
kind: Namespace
metadata: {name: audit-b}
---
apiVersion: v1
kind: Pod
metadata: {name: fits, namespace: audit-a}
spec:
  containers:
  - name: app
    image: registry.example.com/app:1
    resources:
      requests: {cpu: 100m, memory: 64Mi}
      limits: {cpu: 200m, memory: 128Mi}
---
apiVersion: v1
kind: Pod
metadata: {name: bare, namespace: audit-a}
spec:
  containers:
  - {name: app, image: registry.example.com/app:1}
---
apiVersion: v1
kind: Pod
metadata: {name: big, namespace: audit-a}
spec:
  containers:
  - name: app
    image: registry.example.com/app:1
    resources:
      limits: {cpu: "8", memory: 1Gi}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: audit-b}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: registry.example.com/web:1}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: audit-b}
spec:
  schedule: "0 3 * * *"
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: job
            image: registry.example.com/job:1
            resources:
              requests: {cpu: "3", memory: 256Mi}
              limits: {cpu: "6", memory: 8Gi}
YAML
# The Deployment's ReplicaSet and Pod, made by kube-controller-manager before the policy is in.
for _ in $(seq 300); do
  [[ -n $(kubectl get pods -n audit-b -l app=web -o name 2>>"$log") ]] && break
  sleep 0.2
done
[[ -n $(kubectl get pods -n audit-b -l app=web -o name) ]] || { say "the Deployment's Pod did not appear within 60 s"; exit 2; }

# --- the policy: policy-server serving it, and what audit-scanner reads to find it ---
CLUSTER_DIR=$dir HOST=kubewarden SETTINGS=$settings scripts/cluster/webhook.sh >>"$log" 2>&1
url=$(cat "$dir/webhook/url")
kubectl apply -f - >>"$log" <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: kubewarden}
---
apiVersion: policies.kubewarden.io/v1
kind: PolicyServer
metadata: {name: default}
spec: {image: ghcr.io/kubewarden/policy-server:v1.35.0, replicas: 1}
---
# As the controller names and labels the PolicyServer's Service; nothing routes through it
# (audit-scanner is given policy-server's loopback URL), but audit-scanner requires it.
apiVersion: v1
kind: Service
metadata:
  name: policy-server-default
  namespace: kubewarden
  labels: {app.kubernetes.io/instance: policy-server-default}
spec:
  ports: [{name: policy-server, port: 8443, targetPort: 8443}]
YAML
kubectl apply -f "$policy" >>"$log"
# What the controller sets once policy-server serves the policy.
kubectl patch clusteradmissionpolicy "$policy_name" --subresource status --type merge \
  -p '{"status": {"policyStatus": "active", "mode": "protect"}}' >>"$log"
# The settings policy-server serves (SETTINGS) must be the policy file's, which ours reads.
kubectl get clusteradmissionpolicy "$policy_name" -o jsonpath='{.spec.settings}' > "$tmp/cap-settings.json"
python3 - "$tmp/cap-settings.json" "$settings" <<'PY' || { say "the settings of $policy differ from $settings"; exit 2; }
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
PY

# --- the two audits, timed ---
# The first request for a custom resource after its CRD is established waits about a second
# while the API server sets up its storage; audit-scanner reads eight such kinds (the
# policies, PolicyServers, both report formats), ours one, so a first run measured that, not
# the tools (in a cluster that has run for a while, the controller's watches have done it).
# One untimed list of every CRD's resources first.
crd_names=$(kubectl get crd -o jsonpath='{range .items[*]}{.metadata.name}{","}{end}')
kubectl get "${crd_names%,}" -A >>"$log" 2>&1
# audit-scanner: its logs (JSON, on standard output) say what failed; it exits 0 when an
# object could not be audited or a report not written, so an ERROR line fails the run too.
# --loglevel is given: without it, v1.36.0 panics ("invalid log level").
run_scanner() {
  local status=0
  "$scanner" --kubewarden-namespace kubewarden --policy-server-url "$url" --extra-ca "$dir/pki/ca.crt" \
    --report-kind openreports --loglevel info > "$tmp/scanner.log" 2>&1 || status=$?
  if [[ $status != 0 ]] || grep -q '"level":"ERROR"' "$tmp/scanner.log"; then
    say "audit-scanner failed (exit $status); its errors:"
    grep '"level":"ERROR"' "$tmp/scanner.log" >&2 || tail -n 20 "$tmp/scanner.log" >&2
    exit 2
  fi
}
# Ours: exit 0 nothing would be refused, 1 something would be; 2 it could not run.
run_ours() {
  local status=0
  "$cli" audit -s "$policy" --report openreports --kubeconfig "$KUBECONFIG" -v \
    > "$tmp/ours.txt" 2> "$tmp/ours.err" || status=$?
  if [[ $status != 0 && $status != 1 ]]; then
    say "resource-limits audit failed (exit $status):"
    cat "$tmp/ours.txt" "$tmp/ours.err" >&2
    exit 2
  fi
}
# COMPARE_RUNS rounds (default 3), the order alternating; each run's wall time is kept. The
# first run of each creates its reports, the next ones update them in place.
runs=${COMPARE_RUNS:-3}
: > "$tmp/times"
timed() { # name function
  local t0=$EPOCHREALTIME
  "$2"
  echo "$1 $t0 $EPOCHREALTIME" >> "$tmp/times"
}
say "running audit-scanner (against $url) and resource-limits audit --report openreports, $runs times each"
for round in $(seq "$runs"); do
  if (( round % 2 )); then
    timed audit-scanner run_scanner; timed resource-limits run_ours
  else
    timed resource-limits run_ours; timed audit-scanner run_scanner
  fi
done

# --- read back and compare ---
kubectl get reports.openreports.io -A -l app.kubernetes.io/managed-by=kubewarden -o json > "$tmp/scanner.json"
kubectl get reports.openreports.io -A -l app.kubernetes.io/managed-by=resource-limits -o json > "$tmp/ours.json"
kubectl get pods,replicasets,deployments,statefulsets,daemonsets,replicationcontrollers,jobs,cronjobs,podtemplates \
  -A -o json > "$tmp/objects.json"
echo "$known" > "$tmp/known.tsv"

echo "audit-scanner $KUBEWARDEN_CONTROLLER_VERSION (kubewarden-controller module, $(go env GOVERSION)) through $(policy-server --version 2>/dev/null | head -n 1) on $url"
echo "$("$cli" --version 2>/dev/null | head -n 1) (target/debug/resource-limits); Kubernetes $KUBERNETES_VERSION; policy $(basename "$policy") ($policy_id), settings $(basename "$settings")"
tail -n 2 "$tmp/ours.txt" | sed 's/^/resource-limits audit: /'
echo
compare_status=0
python3 - "$tmp" "$policy_id" <<'PY' || compare_status=$?
import json, sys
tmp, policy_id = sys.argv[1], sys.argv[2]
times = {}
for line in open(f"{tmp}/times"):
    tool, a, b = line.split()
    times.setdefault(tool, []).append(float(b.replace(",", ".")) - float(a.replace(",", ".")))
known = dict(l.split("\t", 1) for l in open(f"{tmp}/known.tsv").read().splitlines() if l.strip())

# The result fields report readers (Policy Reporter) show and filter by, besides the result.
FIELDS = ("source", "category", "severity")
def reports(path):
    out, fields = {}, {}
    for r in json.load(open(path))["items"]:
        s = r.get("scope") or {}
        key = (s.get("namespace", ""), s.get("kind", ""), s.get("name", ""))
        res = [x for x in r.get("results") or [] if x.get("policy") == policy_id]
        if len(res) != 1:
            out[key] = ("(no result)" if not res else f"({len(res)} results)", "")
        else:
            out[key] = (res[0].get("result", ""), res[0].get("message", ""))
            for f in FIELDS:
                fields.setdefault(f, set()).add(res[0].get(f) or "(none)")
    return out, fields

(scanner, scanner_fields), (ours, ours_fields) = reports(f"{tmp}/scanner.json"), reports(f"{tmp}/ours.json")
# Each object's controlling owner, and the top of its chain (Pod -> ReplicaSet -> Deployment).
objects = json.load(open(f"{tmp}/objects.json"))["items"]
by_uid = {o["metadata"]["uid"]: o for o in objects}
def key_of(o):
    return (o["metadata"].get("namespace", ""), o["kind"], o["metadata"]["name"])
def owner(o):
    for r in o["metadata"].get("ownerReferences") or []:
        if r.get("controller") and r.get("uid") in by_uid:
            return by_uid[r["uid"]]
    return None
top = {}
for o in objects:
    t = o
    while owner(t) is not None:
        t = owner(t)
    top[key_of(o)] = key_of(t) if t is not o else None

def name(k):
    return f"{k[0]} {k[1]}/{k[2]}" if k[0] else f"{k[1]}/{k[2]}"
def cell(m):
    return (m or "").replace("|", "\\|").replace("\n", " ")

rows, unknown, seen_codes = [], [], set()
for k in sorted(set(scanner) | set(ours)):
    s, o = scanner.get(k), ours.get(k)
    code = None
    if s and o and s == o:
        agree = "yes"
    elif s and not o and top.get(k) and top[k] in ours and (
            s[0] == ours[top[k]][0] or (s[0] == "pass" and ours[top[k]][0] == "warn")):
        # Reported under its owner by ours, with the owner's verdict (or, where the owner
        # lacks defaults, a pass: policy-server adds them to the owned object too).
        code = "owned"
    elif s and o and s[0] == "pass" and o[0] == "warn" and "would be added" in o[1]:
        code = "defaults"
    elif s and o and s[0] == o[0] == "pass" and s[1] == "":
        code = "pass-message"
    else:
        code = "unknown"
    if code:
        agree = f"no: {code}" if code in known else "no: NOT KNOWN"
        if code not in known:
            unknown.append(k)
        seen_codes.add(code)
    owned_by = f" (owned; counted under {top[k][1]}/{top[k][2]})" if top.get(k) else ""
    rows.append(f"| {name(k)}{owned_by} | {s[0] if s else '(none)'} | {cell(s[1]) if s else ''} "
                f"| {o[0] if o else '(none)'} | {cell(o[1]) if o else ''} | {agree} |")
print("| object | audit-scanner | its message | resource-limits | our message | agree |")
print("|---|---|---|---|---|---|")
print("\n".join(rows))
print()
# Each result field: the values each tool wrote (over all its results); a field whose values
# differ is a difference with the field's name as its code.
print("| result field | audit-scanner | resource-limits | agree |")
print("|---|---|---|---|")
for f in FIELDS:
    a, b = sorted(scanner_fields.get(f, {"(none)"})), sorted(ours_fields.get(f, {"(none)"}))
    if a == b:
        agree = "yes"
    else:
        agree = f"no: {f}" if f in known else "no: NOT KNOWN"
        seen_codes.add(f)
        if f not in known:
            unknown.append(("", "result field", f))
    print(f"| {f} | {', '.join(a)} | {', '.join(b)} | {agree} |")
print()

def kinds(reps):
    c = {}
    for k in reps:
        c[k[1]] = c.get(k[1], 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in sorted(c.items())) or "none"
def results(reps):
    c = {}
    for r, _ in reps.values():
        c[r] = c.get(r, 0) + 1
    return ", ".join(f"{n} {r}" for r, n in sorted(c.items())) or "none"
print(f"audit-scanner: {len(scanner)} reports ({kinds(scanner)}): {results(scanner)}")
print(f"resource-limits: {len(ours)} reports ({kinds(ours)}): {results(ours)}")
only_s = [name(k) for k in sorted(set(scanner) - set(ours))]
only_o = [name(k) for k in sorted(set(ours) - set(scanner))]
print(f"reported by audit-scanner only: {', '.join(only_s) or 'none'}")
print(f"reported by resource-limits only: {', '.join(only_o) or 'none'}")
for tool in ("audit-scanner", "resource-limits"):
    t = sorted(times[tool])
    runs = ", ".join(f"{x:.3f}" for x in times[tool])
    print(f"wall time, {tool}: median {t[len(t) // 2]:.3f} s over {len(t)} runs ({runs} s)")
print()
if seen_codes & set(known):
    print("Known differences seen:")
    for code in sorted(seen_codes & set(known)):
        print(f"- {code}: {known[code]}")
if unknown:
    print()
    print(f"{len(unknown)} difference(s) not in the known table: {', '.join(name(k) for k in unknown)}")
    sys.exit(3)
PY
case $compare_status in
  0) ;;
  3) differs=1; exit 1 ;;
  *) say "the comparison failed (exit $compare_status)"; exit 2 ;;
esac
