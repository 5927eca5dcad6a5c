#!/usr/bin/env bash
# `make bench-policy-server` (BENCHMARKS.md, "policy-server: our policy against a parse-only
# policy in the same server"): one policy-server (../shared/bin, loopback, plain HTTP,
# --log-level warn) serves two ids from one policies.yml: `resource-limits`
# (annotated-policy.wasm, examples/settings/bounded.json, allowedToMutate) and `baseline`
# (tests/baseline-policy, which only parses the request into a serde_json::Value and
# accepts, annotated with scripts/baseline-metadata.yml). Both get the 4-container Deployment
# of `make bench` (tests/hosts/src/bin/bench-bodies.rs) as an AdmissionReview: `accepted`
# (complete resources) and `mutated` (the last container without resources: ours answers
# with a patch adding the defaults; the baseline accepts it unchanged). A third id,
# `baseline-mutating`, is the same baseline with `{"mutate": true}`: it answers every request
# with the object and one annotation added, the do-nothing mutating policy, so that
# policy-server does for it what it does for any mutation (parse the object it gets back and
# diff it against the request); the mutated body is compared with it too. After a check of each
# answer and a warm-up, wrk runs against each /validate/ID in turn, rounds alternating the
# order (baseline first, then ours first), and prints each run's req/s, p50 and p99, ours
# against the baseline per round and in total, and the server's RSS (VmRSS) at start, after
# the warm-up and after every run.
#
# Usage: scripts/bench-policy-server.sh [SECONDS per run, default 15] [ROUNDS, default 4]
# Environment: BENCH_CONNECTIONS (wrk -c, default 8), BENCH_PORT (default 18743; the
# readiness probe listens on the next port).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$root"
secs=${1:-15}
rounds=${2:-4}
conns=${BENCH_CONNECTIONS:-8}
port=${BENCH_PORT:-18743}
ready_port=$((port + 1))
for tool in policy-server kwctl wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "bench-policy-server: $tool is not on PATH (wrk: apt-get install wrk)" >&2; exit 1; }
done
[[ -f annotated-policy.wasm ]] || { echo "bench-policy-server: run make annotated-policy.wasm first" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-policy-server.XXXXXX")
server=
cleanup() {
  if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
say() { echo "bench-policy-server: $*" >&2; }

# The bodies: the object `make bench` times (host_tests::bench_deployment, shared).
cargo build -q --release --target wasm32-wasip1 -p baseline-policy
cargo run -q -p host-tests --bin bench-bodies -- "$tmp"
export XDG_CONFIG_HOME=$tmp/cfg XDG_CACHE_HOME=$tmp/cache XDG_DATA_HOME=$tmp/data
RUST_LOG=kwctl=error,policy_evaluator=error,sigstore=error kwctl annotate \
  -m scripts/baseline-metadata.yml -o "$tmp/baseline.wasm" \
  "$target/wasm32-wasip1/release/baseline_policy.wasm" >/dev/null
sed 's/^mutating: false$/mutating: true/' scripts/baseline-metadata.yml >"$tmp/baseline-mutating.yml"
grep -q '^mutating: true$' "$tmp/baseline-mutating.yml"
RUST_LOG=kwctl=error,policy_evaluator=error,sigstore=error kwctl annotate \
  -m "$tmp/baseline-mutating.yml" -o "$tmp/baseline-mutating.wasm" \
  "$target/wasm32-wasip1/release/baseline_policy.wasm" >/dev/null

settings=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' examples/settings/bounded.json)
cat >"$tmp/policies.yml" <<EOF
resource-limits:
  module: file://$root/annotated-policy.wasm
  allowedToMutate: true
  settings: $settings
baseline:
  module: file://$tmp/baseline.wasm
baseline-mutating:
  module: file://$tmp/baseline-mutating.wasm
  allowedToMutate: true
  settings: {"mutate": true}
EOF
for body in accepted mutated; do
  cat >"$tmp/$body.lua" <<LUA
local f = io.open("$tmp/$body.json", "r")
wrk.method = "POST"
wrk.body = f:read("*all")
wrk.headers["Content-Type"] = "application/json"
f:close()
LUA
done

if curl -s -o /dev/null "http://127.0.0.1:$port/" || curl -s -o /dev/null "http://127.0.0.1:$ready_port/"; then
  say "port $port or $ready_port is in use: set BENCH_PORT"; exit 1
fi
policy-server --addr 127.0.0.1 --port "$port" --readiness-probe-port "$ready_port" \
  --policies "$tmp/policies.yml" --policies-download-dir "$tmp" --sigstore-cache-dir "$tmp/sigstore" \
  --ignore-kubernetes-connection-failure --log-level warn >"$tmp/server.log" 2>&1 &
server=$!
for _ in $(seq 300); do
  curl -sf -o /dev/null "http://127.0.0.1:$ready_port/readiness" && break
  kill -0 "$server" 2>/dev/null || { say "policy-server exited:"; tail -n 20 "$tmp/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$ready_port/readiness" || { say "policy-server not ready after 30 s"; exit 1; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
rss_log=$tmp/rss
echo "start $(rss)" >"$rss_log"

# Each answer is what it should be before anything is timed.
for id in resource-limits baseline baseline-mutating; do
  for body in accepted mutated; do
    curl -sf -X POST -H 'Content-Type: application/json' --data-binary @"$tmp/$body.json" \
      "http://127.0.0.1:$port/validate/$id" >"$tmp/answer-$id-$body.json"
    python3 - "$tmp/answer-$id-$body.json" "$id" "$body" <<'PY'
import base64, json, sys
path, id, body = sys.argv[1:]
r = json.load(open(path))["response"]
assert r["allowed"] is True, (id, body, r)
if id == "resource-limits" and body == "mutated":
    ops = json.loads(base64.b64decode(r["patch"]))
    assert r["patchType"] == "JSONPatch" and ops, r
    assert all(op["op"] == "add" and op["path"].startswith("/spec/template/spec/containers/3/") for op in ops), ops
elif id == "baseline-mutating":
    ops = json.loads(base64.b64decode(r["patch"]))
    assert r["patchType"] == "JSONPatch" and len(ops) == 1 and ops[0]["op"] == "add", ops
    assert ops[0]["path"].startswith("/metadata/annotations"), ops
else:
    assert "patch" not in r or r["patch"] is None, (id, body, r)
PY
  done
done

run() { # id body seconds -> "req/s p50 p99 errors"
  wrk -t1 -c"$conns" -d"$3s" --latency -s "$tmp/$2.lua" "http://127.0.0.1:$port/validate/$1" >"$tmp/wrk.out"
  python3 scripts/wrk-summary.py "$tmp/wrk.out"
}

# Warm-up: every id and body, untimed.
for id in baseline baseline-mutating resource-limits; do for body in accepted mutated; do run "$id" "$body" 3 >/dev/null; done; done
echo "warm-up $(rss)" >>"$rss_log"

echo "$(policy-server --version 2>/dev/null | head -n1), annotated-policy.wasm $(wc -c <annotated-policy.wasm) B, wrk -t1 -c$conns -d${secs}s, $(nproc) CPUs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| round | run | body | req/s | p50 ms | p99 ms | errors | RSS after, KiB | load 1 min |"
echo "|---|---|---|---|---|---|---|---|---|"
results=$tmp/results
: >"$results"
for ((round = 1; round <= rounds; round++)); do
  if ((round % 2)); then order="baseline resource-limits"; else order="resource-limits baseline"; fi
  for body in accepted mutated; do
    ids=$order
    if [[ $body == mutated ]]; then
      if ((round % 2)); then ids="$order baseline-mutating"; else ids="baseline-mutating $order"; fi
    fi
    for id in $ids; do
      read -r rps p50 p99 errs <<<"$(run "$id" "$body" "$secs")"
      mem=$(rss)
      echo "run $mem" >>"$rss_log"
      echo "$round $id $body $rps $p50 $p99" >>"$results"
      echo "| $round | $id | $body | $rps | $p50 | $p99 | $errs | $mem | $(cut -d' ' -f1 /proc/loadavg) |"
    done
  done
done
kill -0 "$server" 2>/dev/null || { say "policy-server died during the runs"; exit 1; }
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" "$rss_log" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
rps = {(int(r[0]), r[1], r[2]): float(r[3]) for r in rows}
rounds = sorted({k[0] for k in rps})
print()
print("| body | ours / baseline req/s per round | median | total | target 0.95 |")
print("|---|---|---|---|---|")
for body in ("accepted", "mutated"):
    ratios = [rps[(n, "resource-limits", body)] / rps[(n, "baseline", body)] for n in rounds]
    total = sum(rps[(n, "resource-limits", body)] for n in rounds) / sum(rps[(n, "baseline", body)] for n in rounds)
    med = statistics.median(ratios)
    print(f"| {body} | {' '.join(f'{r:.3f}' for r in ratios)} | {med:.3f} | {total:.3f} | {'met' if total >= 0.95 else 'not met'} |")
ratios = [rps[(n, "resource-limits", "mutated")] / rps[(n, "baseline-mutating", "mutated")] for n in rounds]
total = sum(rps[(n, "resource-limits", "mutated")] for n in rounds) / sum(rps[(n, "baseline-mutating", "mutated")] for n in rounds)
print(f"| mutated, against baseline-mutating | {' '.join(f'{r:.3f}' for r in ratios)} | {statistics.median(ratios):.3f} | {total:.3f} | {'met' if total >= 0.95 else 'not met'} |")
rss = [(l.split()[0], int(l.split()[1])) for l in open(sys.argv[2])]
runs = [v for k, v in rss if k == "run"]
warm = next(v for k, v in rss if k == "warm-up")
print()
print(f"RSS (KiB): start {rss[0][1]}, after warm-up {warm}, after the runs min {min(runs)} max {max(runs)} "
      f"last {runs[-1]}: last - warm-up {runs[-1] - warm:+d} KiB ({(runs[-1] - warm) / warm * 100:+.1f}%)")
PY
