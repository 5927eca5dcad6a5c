#!/usr/bin/env bash
# Spin load benchmark (BENCHMARKS.md): the validating component against a trivial echo
# component on the same SDK, both served by the same `spin up`, loaded by wrk over loopback
# with keep-alive connections, in one run; plus the same component answering the SDK's usual
# way (response first, body after) to show the Nagle/delayed-ACK stall; plus RSS of the
# serving process across a long run.
# Usage: scripts/bench-spin.sh [SECONDS per run, default 10] [SOAK_REQUESTS, default 1000000]
# (BENCH_ROUNDS: rounds of echo and policy, default 2). The policy is timed on /mutate.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$root"
secs=${1:-10}
soak=${2:-1000000}
tmp=$(mktemp -d)
pids=()
# Each `spin up` runs in its own session (setsid), so its child `spin trigger http` is
# stopped with it.
cleanup() { for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
export XDG_CACHE_HOME=$tmp/cache

cargo build -q --release --target wasm32-wasip2 -p resource-limits-spin -p spin-echo
CARGO_TARGET_DIR=$target/naive cargo build -q --release --target wasm32-wasip2 -p resource-limits-spin --features naive-respond
# Each manifest names its component by the target folder's absolute path.
manifest() { # SOURCE.toml WASM OUT.toml
  sed "s|^source = .*|source = \"$2\"|; /^\[component.resource-limits.build\]/,\$d" "$1" >"$3"
}
manifest spin.toml "$target/wasm32-wasip2/release/resource_limits_spin.wasm" "$tmp/policy.toml"
manifest spin.toml "$target/naive/wasm32-wasip2/release/resource_limits_spin.wasm" "$tmp/naive.toml"
manifest tests/spin-echo/spin.toml "$target/wasm32-wasip2/release/spin_echo.wasm" "$tmp/echo.toml"

settings=$(python3 -c 'import json,sys; print(json.dumps(json.load(open("examples/settings/bounded.json"))))')
python3 - "$tmp/review.json" <<'PY'
import json, sys
r = json.load(open("examples/requests/deployment-without-resources.json"))
json.dump({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": r}, open(sys.argv[1], "w"))
PY
cat > "$tmp/post.lua" <<LUA
local f = io.open("$tmp/review.json", "r")
wrk.method = "POST"
wrk.body = f:read("*all")
wrk.headers["Content-Type"] = "application/json"
f:close()
LUA

start() { # name manifest port
  setsid spin up -f "$2" --listen "127.0.0.1:$3" --variable settings="$settings" >"$tmp/$1.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$3/" && return; sleep 0.1; done
  echo "spin up $1 did not start" >&2; cat "$tmp/$1.log" >&2; exit 1
}
cargo build -q --release --target wasm32-wasip2 -p spin-echo --features read-variable --target-dir "$target/echo-var"
manifest tests/spin-echo/spin.toml "$target/echo-var/wasm32-wasip2/release/spin_echo.wasm" "$tmp/echo-var.toml"
start echo "$tmp/echo.toml" 3301
start policy "$tmp/policy.toml" 3302
start naive "$tmp/naive.toml" 3303
start echovar "$tmp/echo-var.toml" 3304
# The request is a mutation (its answer carries a patch): the heaviest common case.
curl -s -X POST --data-binary @"$tmp/review.json" http://127.0.0.1:3302/mutate | python3 -c 'import json,sys; r=json.load(sys.stdin)["response"]; assert r["allowed"] and r["patch"], r' 

run() { # name port path -> "req/s p50 p99 errors"
  wrk -t1 -c2 -d"${secs}s" --latency -s "$tmp/post.lua" "http://127.0.0.1:$2$3" > "$tmp/$1.wrk"
  python3 scripts/wrk-summary.py "$tmp/$1.wrk" 3
}
echo "| component | req/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---|---|---|---|"
for round in $(seq "${BENCH_ROUNDS:-2}"); do
  read -r e50 e1 e2 e3 e4 <<<"$(run echo 3301 /)"
  read -r p50 p1 p2 p3 p4 <<<"$(run policy 3302 /mutate)"
  echo "| echo (round $round) | $e50 | $e1 | $e2 | $e3 $e4 |"
  echo "| resource-limits (round $round) | $p50 | $p1 | $p2 | $p3 $p4 |"
  python3 -c "print(f'|  policy / echo | {$p50/$e50:.2f} | | | |')"
done
read -r n50 n1 n2 n3 n4 <<<"$(run naive 3303 /mutate)"
echo "| resource-limits, response before body | $n50 | $n1 | $n2 | $n3 $n4 |"
read -r v50 v1 v2 v3 v4 <<<"$(run echovar 3304 /)"
echo "| echo, reading the settings variable (SDK's simple handler) | $v50 | $v1 | $v2 | $v3 $v4 |"

# Soak: RSS of the serving process before and after $soak requests.
# RSS of the process that serves: `spin trigger http`, the child of `spin up`.
policy_pid=$(pgrep -P "${pids[1]}" -f "spin trigger http" | head -n1)
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
before=$(rss "$policy_pid")
wrk -t2 -c4 -d600s --latency -s "$tmp/post.lua" "http://127.0.0.1:3302/mutate" > "$tmp/soak.wrk" &
wrkpid=$!
# Stop the soak once it has sent $soak requests (estimated from the measured rate) or after 600 s.
python3 -c "import time; time.sleep(min(600, 1.15 * $soak / max($p50 * 1.5, 1)))"
kill -INT "$wrkpid" 2>/dev/null || true
wait "$wrkpid" || true
after=$(rss "$policy_pid")
sent=$(awk '/requests in/ {print $1}' "$tmp/soak.wrk")
non2xx=$(awk '/Non-2xx/ {print $5}' "$tmp/soak.wrk")
echo
echo "soak: $sent requests (wrk -t2 -c4), non-2xx: ${non2xx:-0}, spin RSS before $before KiB, after $after KiB"
