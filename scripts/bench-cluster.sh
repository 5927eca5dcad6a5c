#!/usr/bin/env bash
# `make bench-cluster` (BENCHMARKS.md, "Through the API server"): the latency the webhook adds
# to a create through a real API server. One control plane (scripts/cluster/up.sh, in a
# scratch folder, stopped on exit), then rounds that alternate the webhook behind it: none,
# Kubewarden (policy-server), Spin, native (`resource-limits serve`, the image's static binary,
# built once before the runs), each registered by scripts/cluster/webhook.sh as users register
# it, and `vap`: no webhook, the ValidatingAdmissionPolicy
# scripts/cluster/vap/require-limits.yaml (CEL, evaluated inside the API server) applied for
# its runs and removed before the next host's, so each run measures one mechanism, and `cel`:
# no webhook, the settings compiled by `resource-limits export cel` (a MutatingAdmissionPolicy
# for the defaults and ValidatingAdmissionPolicies, evaluated inside the API server), applied
# and removed the same way. In each,
# createbench (scripts/cluster/cmd/createbench) creates the 4-container Deployment of
# `make bench` BENCH_CREATES times, one after the other, over one kept-alive connection, into
# a namespace of its own (deleted, and waited for, before the next run), once as the variant
# the policy mutates and once as the one it accepts unchanged (a VAP cannot mutate: `vap`
# runs the accepted variant only, and a server-side dry run of a Deployment without limits
# must be denied before and after its runs, admitted once it is removed; `cel` runs both, its
# probe a Deployment over the bounds; both wait until kube-controller-manager has type-checked
# their policies, a one-time cost that would otherwise share the CPUs with the timed creates).
# Prints each run's figures, then each host's against no
# webhook in the same round.
#
# Environment: BENCH_CREATES (timed creates per run, default 1000), BENCH_WARMUP (untimed
# creates first, default 50), BENCH_ROUNDS (default 2), BENCH_VARIANTS (default "mutated
# accepted"), BENCH_HOSTS (default "none vap cel kubewarden spin native"; none, the reference,
# is always run), SETTINGS (default examples/settings/bounded.json).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.sh
source scripts/lib.sh
creates=${BENCH_CREATES:-1000}
warmup=${BENCH_WARMUP:-50}
rounds=${BENCH_ROUNDS:-2}
variants=${BENCH_VARIANTS:-mutated accepted}
settings=${SETTINGS:-$root/examples/settings/bounded.json}
hosts=${BENCH_HOSTS:-none vap cel kubewarden spin native}
# Each host is measured against no webhook in the same round.
[[ " $hosts " == *" none "* ]] || hosts="none $hosts"
vap=$root/scripts/cluster/vap/require-limits.yaml
# policy-server and spin, as the cluster tests find them.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-cluster.XXXXXX")
dir=$tmp/cluster
log=$tmp/log
cleanup() {
  status=$?
  CLUSTER_DIR=$dir scripts/cluster/down.sh >>"$log" 2>&1 || true
  if [[ $status != 0 ]]; then echo "bench-cluster: failed; the last lines of its log:" >&2; tail -n 30 "$log" >&2 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
say() { echo "bench-cluster: $*" >&2; }
for host in $hosts; do
  case $host in none|vap|cel|kubewarden|spin|native) ;; *) say "BENCH_HOSTS: unknown host '$host'"; exit 2 ;; esac
done
# A server-side dry run of a Deployment whose container has the resources $1 (a YAML flow
# mapping; default none): prints "denied" or "admitted".
probe() {
  if "$bin/kubectl" create --dry-run=server -f - >>"$log" 2>&1 <<YAML; then echo admitted; else echo denied; fi
apiVersion: apps/v1
kind: Deployment
metadata: {name: vap-probe, namespace: default}
spec:
  selector: {matchLabels: {app: vap-probe}}
  template:
    metadata: {labels: {app: vap-probe}}
    spec:
      containers: [{name: web, image: nginx, resources: ${1:-{\}}}]
YAML
}
# The cel host's probe: limits far over any bound of the settings (the exported
# MutatingAdmissionPolicy would give a Deployment without limits its defaults).
over='{limits: {cpu: "512", memory: 4Ti}, requests: {cpu: "512", memory: 4Ti}}'
# Waits (up to 120 s) until kube-controller-manager has type-checked every
# ValidatingAdmissionPolicy (its status.observedGeneration is its generation): a one-time cost
# of each new policy (seconds of CPU for the exported ones), which would otherwise run beside
# the timed creates on the same 2 CPUs.
typechecked() {
  local want='{range .items[*]}{.metadata.generation}={.status.observedGeneration}{"\n"}{end}' states
  for _ in $(seq 240); do
    states=$("$bin/kubectl" get validatingadmissionpolicies -o jsonpath="$want" 2>>"$log") || true
    if [[ -n $states ]] && ! awk -F= '$1 != $2 {bad = 1} END {exit !bad}' <<<"$states"; then
      return 0
    fi
    sleep 0.5
  done
  say "the exported policies were not type-checked within 120 s"; return 1
}
# Waits (up to 60 s) until the probe (with the resources $2) gets the answer $1: a new or
# deleted policy takes effect in the API server a moment after it is stored.
await() {
  for _ in $(seq 120); do [[ $(probe "${2:-}") == "$1" ]] && return 0; sleep 0.5; done
  say "the probe was not $1 within 60 s"; return 1
}

bin=$(scripts/cluster/build.sh 2>>"$log")
# The native server: the shipped binary (static, profile native), built now and copied, so
# every native run serves the same program whatever happens to the working tree meanwhile.
say "building the native server"
cargo build -q --profile native --target x86_64-unknown-linux-musl -p resource-limits-cli --no-default-features >>"$log" 2>&1
native=$tmp/resource-limits
cp "$target/x86_64-unknown-linux-musl/native/resource-limits" "$native"
# The settings as the API server's own policies (the cel host), exported once.
exported=$tmp/exported-cel.yaml
"$native" export cel -s "$settings" > "$exported"
# What the two hosts serve (webhook.sh loads them at each switch): the same files all along.
modules=("$root/annotated-policy.wasm" "$target/wasm32-wasip2/release/resource_limits_spin.wasm")
sums=$(sha256sum "${modules[@]}")
# shellcheck source=cluster/versions.env
source scripts/cluster/versions.env
say "starting the control plane (Kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION) in $dir"
CLUSTER_DIR=$dir WEBHOOK=none scripts/cluster/up.sh >>"$log" 2>&1
export KUBECONFIG=$dir/admin.kubeconfig
# Untimed creates first, so the first timed run does not meet a control plane still settling.
"$bin/kubectl" create namespace bench-settle >>"$log" 2>&1
"$bin/createbench" -namespace bench-settle -n 1 -warmup 300 -prefix settle >>"$log" 2>&1
"$bin/kubectl" delete namespace bench-settle --wait --timeout 600s >>"$log" 2>&1
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

results=$tmp/results
: > "$results"
for round in $(seq "$rounds"); do
  # none, vap, kubewarden, spin, native in odd rounds, the other way round in even ones, so a
  # drift of the machine's load over the run does not favour one host.
  order=$hosts
  (( round % 2 == 0 )) && order=$(echo "$hosts" | tr ' ' '\n' | tac | tr '\n' ' ')
  for host in $order; do
    if [[ $host == vap ]]; then
      CLUSTER_DIR=$dir HOST=none scripts/cluster/webhook.sh >>"$log" 2>&1
      "$bin/kubectl" apply -f "$vap" >>"$log" 2>&1
      await denied
      typechecked
      # A VAP cannot add defaults: only the variant with complete resources.
      host_variants=$(echo "$variants" | tr ' ' '\n' | grep -x accepted || true)
    elif [[ $host == cel ]]; then
      CLUSTER_DIR=$dir HOST=none scripts/cluster/webhook.sh >>"$log" 2>&1
      "$bin/kubectl" apply -f "$exported" >>"$log" 2>&1
      await denied "$over"
      typechecked
      host_variants=$variants
    else
      CLUSTER_DIR=$dir HOST=$host SETTINGS=$settings NATIVE_SERVER=$native scripts/cluster/webhook.sh >>"$log" 2>&1
      host_variants=$variants
    fi
    for variant in $host_variants; do
      ns=bench-$round-$host-$variant
      "$bin/kubectl" create namespace "$ns" >>"$log" 2>&1
      line=$("$bin/createbench" -namespace "$ns" -n "$creates" -warmup "$warmup" -prefix web -variant "$variant" 2>>"$log")
      # Every timed create must have gone through what was registered: mutated exactly
      # when a webhook is there and the variant lacks resources.
      want=0
      [[ $host != none && $variant == mutated ]] && want=$creates
      got=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["mutated"])' "$line")
      if [[ $got != "$want" ]]; then
        say "round $round, $host, $variant: $got of $creates creates came back mutated, expected $want: $line"
        exit 1
      fi
      echo "$round $host $variant $line" >> "$results"
      say "round $round, $host, $variant: $line"
      "$bin/kubectl" delete namespace "$ns" --wait --timeout 600s >>"$log" 2>&1
    done
    if [[ $host == vap ]]; then
      # Still in force at the end of its runs, then gone before the next host's.
      [[ $(probe) == denied ]] || { say "round $round: the VAP no longer denied after its runs"; exit 1; }
      "$bin/kubectl" delete -f "$vap" --wait >>"$log" 2>&1
      await admitted
    elif [[ $host == cel ]]; then
      [[ $(probe "$over") == denied ]] || { say "round $round: the exported policies no longer denied after their runs"; exit 1; }
      "$bin/kubectl" delete -f "$exported" --wait >>"$log" 2>&1
      await admitted "$over"
    fi
  done
done
CLUSTER_DIR=$dir HOST=none scripts/cluster/webhook.sh >>"$log" 2>&1
if [[ $(sha256sum "${modules[@]}") != "$sums" ]]; then
  say "annotated-policy.wasm or the Spin component was rebuilt during the run; run it again"
  exit 1
fi

echo "Kubernetes $KUBERNETES_VERSION (etcd $ETCD_VERSION), $(policy-server --version 2>/dev/null | head -n 1), $(spin --version 2>/dev/null | head -n 1)"
echo "annotated-policy.wasm $(wc -c < "${modules[0]}") bytes, resource_limits_spin.wasm $(wc -c < "${modules[1]}") bytes, the native server $("$native" --version 2>/dev/null | head -n 1) $(wc -c < "$native") bytes"
echo "$creates timed creates per run after $warmup untimed; settings $(basename "$settings")"
echo "load average (1, 5, 15 min) before the timed runs: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
echo
python3 - "$results" <<'PY'
import json, sys
runs = []
for line in open(sys.argv[1]):
    rnd, host, variant, j = line.split(" ", 3)
    runs.append((int(rnd), host, variant, json.loads(j)))
print("| round | host | variant | creates | p50 ms | p90 ms | p99 ms | mean ms | max ms |")
print("|---|---|---|---|---|---|---|---|---|")
for rnd, host, variant, r in runs:
    print(f"| {rnd} | {host} | {variant} | {r['creates']} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} | {r['mean_ms']:.2f} | {r['max_ms']:.2f} |")
print()
print("Against no webhook in the same round (added: host minus none, in ms; ratio: host / none):")
print()
print("| round | host | variant | p50 added | p99 added | mean added | p50 ratio | p99 ratio |")
print("|---|---|---|---|---|---|---|---|")
base = {(rnd, variant): r for rnd, host, variant, r in runs if host == "none"}
for rnd, host, variant, r in runs:
    b = base.get((rnd, variant))
    if host == "none" or b is None:
        continue
    print(f"| {rnd} | {host} | {variant} | {r['p50_ms'] - b['p50_ms']:+.2f} | {r['p99_ms'] - b['p99_ms']:+.2f} | "
          f"{r['mean_ms'] - b['mean_ms']:+.2f} | {r['p50_ms'] / b['p50_ms']:.2f} | {r['p99_ms'] / b['p99_ms']:.2f} |")
PY
