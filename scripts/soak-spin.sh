#!/usr/bin/env bash
# Soak of the Spin component (BENCHMARKS.md, issue "hardening"): `spin up` on loopback, wrk
# sending REQUESTS AdmissionReviews that cycle through BODIES generated ones (accepted,
# rejected, mutated, and every 50th unreadable: the contract's 400), each answer's status
# compared with the one the native core gives for that body; RSS of the serving process
# sampled along the way. Fails on any unexpected status (any 5xx among them).
# Usage: scripts/soak-spin.sh [REQUESTS, default 1000000] [BODIES, default 2000]
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$root"
requests=${1:-1000000}
nbodies=${2:-2000}
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -- "-$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
export XDG_CACHE_HOME=$tmp/cache
port=${SOAK_PORT:-3311}

cargo build -q --release --target wasm32-wasip2 -p resource-limits-spin
cargo build -q --release -p resource-limits-fuzz --bin fuzz-random
"$target/release/fuzz-random" bodies examples/settings/bounded.json "$tmp/bodies" "$nbodies"
settings=$(python3 -c 'import json; print(json.dumps(json.load(open("examples/settings/bounded.json"))))')

# One connection per wrk thread: each thread's requests and answers strictly alternate, so
# an answer is matched with the body it answers.
cat > "$tmp/soak.lua" <<LUA
local dir = "$tmp/bodies/"
local bodies, expected = {}, {}
local i = 0
for line in io.lines(dir .. "expected.txt") do
  local f = io.open(dir .. i .. ".json", "rb")
  bodies[i + 1] = f:read("*all"); f:close()
  expected[i + 1] = tonumber(line)
  i = i + 1
end
local n = i
local threads = {}
function setup(thread) table.insert(threads, thread) end
-- Each of the two threads stops after half the requests. (Globals: done() reads them
-- from each thread with thread:get.)
next_i, last, total, unexpected, s5xx, s400, limit = 0, 0, 0, 0, 0, 0, $((requests / 2))
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 1000)
  next_i = math.random(0, n - 1)
end
function request()
  last = next_i % n + 1
  next_i = next_i + 1
  return wrk.format("POST", "/validate", {["Content-Type"] = "application/json"}, bodies[last])
end
function response(status, headers, body)
  total = total + 1
  if status ~= expected[last] then unexpected = unexpected + 1 end
  if status >= 500 then s5xx = s5xx + 1 end
  if status == 400 then s400 = s400 + 1 end
  if total >= limit then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local t, u, f, b = 0, 0, 0, 0
  for _, th in ipairs(threads) do
    t = t + th:get("total"); u = u + th:get("unexpected"); f = f + th:get("s5xx"); b = b + th:get("s400")
  end
  io.write(string.format("SOAK total=%d unexpected=%d 5xx=%d 400=%d p50_ms=%.3f p99_ms=%.3f\n",
    t, u, f, b, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA

setsid spin up -f spin.toml --listen "127.0.0.1:$port" --variable settings="$settings" >"$tmp/spin.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
serving=$(pgrep -P "$pid" -f "spin trigger http" | head -n1)
rss() { awk '/VmRSS/ {print $2}' "/proc/$serving/status"; }
echo "spin trigger http pid $serving, RSS at start $(rss) KiB"

# wrk runs for a duration: a 5 s warm-up measures the rate, the soak then gets 1.25 times
# the time its requests need, and each thread stops once it has its share.
wrk -t2 -c2 -d5s -s "$tmp/soak.lua" "http://127.0.0.1:$port/validate" > "$tmp/warmup.wrk"
rate=$(awk '/Requests\/sec/ {print int($2)}' "$tmp/warmup.wrk")
duration=$(( requests * 5 / 4 / (rate > 0 ? rate : 1) + 5 ))
echo "warm-up: $rate req/s; soak of $requests requests, at most $duration s"
wrk -t2 -c2 -d"${duration}s" --latency -s "$tmp/soak.lua" "http://127.0.0.1:$port/validate" > "$tmp/soak.wrk" &
wrkpid=$!
samples=()
every=$(( duration / 20 + 1 ))
while kill -0 "$wrkpid" 2>/dev/null; do
  sleep "$every"
  samples+=("$(rss)")
done
wait "$wrkpid" || true
echo "RSS every $every s (KiB): ${samples[*]}"
grep -E "requests in|SOAK" "$tmp/soak.wrk" || true
line=$(grep SOAK "$tmp/soak.wrk" || echo "SOAK total=0 unexpected=-1 5xx=-1")
field() { sed "s/.* $1=\([0-9-]*\).*/\1/" <<<"$line"; }
total=$(field total)
unexpected=$(field unexpected)
fivexx=$(field 5xx)
if [ "$unexpected" != 0 ] || [ "$fivexx" != 0 ] || [ "$total" -lt "$requests" ]; then
  echo "soak FAILED: $total of $requests answers, $unexpected with an unexpected status, $fivexx 5xx" >&2
  exit 1
fi
echo "soak passed: every status as the core predicts, no 5xx"
