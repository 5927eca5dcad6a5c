#!/usr/bin/env bash
# `make bench-native` (BENCHMARKS.md, "Native server"): the native webhook server
# (`resource-limits serve`, the `native` profile) against the Go yardstick
# (scripts/cluster/cmd/gowebhook: net/http, crypto/tls, the k8s.io/api types), policy-server
# serving annotated-policy.wasm, and the Spin component under `spin up`, in one run, on
# loopback, each over TLS with the same throwaway certificate (a CA and a server certificate
# for IP 127.0.0.1 made here with openssl), each on its validating path: /validate (native,
# Go, Spin), /validate/resource-limits (policy-server, allowedToMutate false, so a policy
# answer with a patch is a rejection there too, as a ValidatingWebhookConfiguration's).
#
# Two AdmissionReview bodies, the same for every server:
#   accepted  the 4-container Deployment of `make bench` with complete resources
#             (tests/hosts/src/bin/bench-bodies.rs), accepted by every server under
#             examples/settings/bounded.json and by the Go rule (cpu and memory limits);
#   rejected  examples/requests/deployment-without-resources.json: the Go rule rejects it (no
#             limits), ours on /validate too (defaults due, which only /mutate adds).
# Each answer is checked before anything is timed. Two clients, pinned to CPU 1 while every
# server is pinned to CPU 0 (taskset): wrk -t1 -c$BENCH_CONNECTIONS over HTTP/1.1 keep-alive,
# and h2load -t1 -c2 -m$((BENCH_CONNECTIONS/2)) over HTTP/2 (h2 by ALPN; a server that does not
# offer it is marked so). After a warm-up, rounds run every server on each body and client,
# the servers' order rotating per round, and the script prints each run's req/s, p50 and p99,
# each server's RSS (VmRSS of the serving process: after start, at rest after the warm-up,
# the most after any run, and at the end), the ratios native/Go, native/policy-server and
# native/Spin over the rounds, and the targets met or not. Then a soak of the native server:
# SOAK_REQUESTS requests in 20 chunks of h2load -n (bodies and protocols alternating), RSS
# after each chunk: first, last, most, and whether it stays flat.
#
# Usage: scripts/bench-native.sh [SECONDS per run, default 10] [SOAK_REQUESTS, default 1000000]
# Environment: BENCH_ROUNDS (default 3), BENCH_CONNECTIONS (concurrent requests, default 8),
# BENCH_PORT (first of five loopback ports, default 18843), BENCH_NATIVE (the server command
# instead of the `native` build: a file taking the same flags, for A/B runs).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$root"
secs=${1:-10}
soak=${2:-1000000}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNECTIONS:-8}
port=${BENCH_PORT:-18843}
server_cpu=0
client_cpu=1
say() { echo "bench-native: $*" >&2; }
for tool in wrk h2load openssl curl python3 taskset policy-server spin cargo; do
  command -v "$tool" >/dev/null || { say "$tool is not on PATH (wrk, h2load: scripts/setup.sh)"; exit 1; }
done
[[ -f annotated-policy.wasm ]] || { say "run make annotated-policy.wasm first"; exit 1; }
(($(nproc) >= 2)) || { say "needs 2 CPUs (server on CPU $server_cpu, client on CPU $client_cpu)"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-native.XXXXXX")
pids=()
# Every server runs in its own session (setsid), so a server and its children (spin up's
# `spin trigger http`) stop together.
cleanup() {
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
export XDG_CONFIG_HOME=$tmp/cfg XDG_CACHE_HOME=$tmp/cache XDG_DATA_HOME=$tmp/data

# The servers.
if [[ -n ${BENCH_NATIVE:-} ]]; then
  native=$BENCH_NATIVE
else
  cargo build -q --profile native -p resource-limits-cli
  native=$target/native/resource-limits
fi
"$native" serve --help >/dev/null 2>&1 || { say "$native has no serve subcommand"; exit 1; }
gobin=$(scripts/cluster/build.sh)
cargo build -q --release --target wasm32-wasip2 -p resource-limits-spin
sed "s|^source = .*|source = \"$target/wasm32-wasip2/release/resource_limits_spin.wasm\"|; /^\[component.resource-limits.build\]/,\$d" \
  spin.toml >"$tmp/spin.toml"

# The bodies.
cargo run -q -p host-tests --bin bench-bodies -- "$tmp"
rm "$tmp/mutated.json"
python3 - "$tmp/rejected.json" <<'PY'
import json, sys
r = json.load(open("examples/requests/deployment-without-resources.json"))
json.dump({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": r}, open(sys.argv[1], "w"))
PY
bodies="accepted rejected"
for body in $bodies; do
  cat >"$tmp/$body.lua" <<LUA
local f = io.open("$tmp/$body.json", "r")
wrk.method = "POST"
wrk.body = f:read("*all")
wrk.headers["Content-Type"] = "application/json"
f:close()
LUA
done

# The certificate: a throwaway CA and a server certificate for 127.0.0.1 (ECDSA P-256, the
# key in PKCS#8 as spin wants it).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-native-ca \
  -keyout "$tmp/ca.key" -out "$tmp/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$tmp/tls.key" -out "$tmp/tls.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/tls.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial -days 2 \
  -extfile "$tmp/ext" -out "$tmp/tls.crt" 2>/dev/null

settings=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' examples/settings/bounded.json)
cat >"$tmp/policies.yml" <<EOF
resource-limits:
  module: file://$root/annotated-policy.wasm
  allowedToMutate: false
  settings: $settings
EOF

servers="native go policy-server spin"
declare -A url pid_of
url[native]=https://127.0.0.1:$port/validate
url[go]=https://127.0.0.1:$((port + 1))/validate
url[policy-server]=https://127.0.0.1:$((port + 2))/validate/resource-limits
url[spin]=https://127.0.0.1:$((port + 4))/validate
for p in $port $((port + 1)) $((port + 2)) $((port + 3)) $((port + 4)); do
  if curl -s -o /dev/null "http://127.0.0.1:$p/"; then say "port $p is in use: set BENCH_PORT"; exit 1; fi
done

start() { # NAME COMMAND...: starts it pinned to the server CPU, in its own session
  local name=$1
  shift
  setsid taskset -c "$server_cpu" "$@" >"$tmp/$name.log" 2>&1 &
  pids+=("$!")
  pid_of[$name]=$!
}
start native "$native" serve --settings examples/settings/bounded.json --listen "127.0.0.1:$port" --shutdown-delay 0s \
  --tls-cert-file "$tmp/tls.crt" --tls-private-key-file "$tmp/tls.key"
start go "$gobin/gowebhook" --listen "127.0.0.1:$((port + 1))" \
  --tls-cert-file "$tmp/tls.crt" --tls-private-key-file "$tmp/tls.key"
start policy-server policy-server --addr 127.0.0.1 --port "$((port + 2))" --readiness-probe-port "$((port + 3))" \
  --cert-file "$tmp/tls.crt" --key-file "$tmp/tls.key" \
  --policies "$tmp/policies.yml" --policies-download-dir "$tmp" --sigstore-cache-dir "$tmp/sigstore" \
  --ignore-kubernetes-connection-failure --log-level warn
start spin spin up -f "$tmp/spin.toml" --listen "127.0.0.1:$((port + 4))" \
  --tls-cert "$tmp/tls.crt" --tls-key "$tmp/tls.key" --variable settings="$settings"

# Ready: each answers the accepted body, over a connection that checks the certificate.
for name in $servers; do
  for _ in $(seq 300); do
    curl -sf --cacert "$tmp/ca.crt" -o /dev/null -X POST -H 'Content-Type: application/json' \
      --data-binary @"$tmp/accepted.json" "${url[$name]}" && continue 2
    kill -0 "${pid_of[$name]}" 2>/dev/null || { say "$name exited:"; tail -n 20 "$tmp/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  say "$name did not answer in 30 s:"; tail -n 20 "$tmp/$name.log" >&2; exit 1
done
# RSS is the serving process's: spin up's child `spin trigger http` for Spin.
spin_child=$(pgrep -P "${pid_of[spin]}" | head -n1 || true)
[[ -n $spin_child ]] && pid_of[spin]=$spin_child
rss() { awk '/^VmRSS/ {print $2}' "/proc/${pid_of[$1]}/status"; }
rss_log=$tmp/rss
for name in $servers; do echo "$name start $(rss "$name")" >>"$rss_log"; done

# Each answer is what it should be, on HTTP/1.1 and on HTTP/2 where offered.
declare -A h2
for name in $servers; do
  for body in $bodies; do
    for proto in --http1.1 --http2; do
      curl -sf --cacert "$tmp/ca.crt" "$proto" -X POST -H 'Content-Type: application/json' \
        --data-binary @"$tmp/$body.json" -w '%{http_version}' -o "$tmp/answer.json" "${url[$name]}" >"$tmp/version"
      [[ $proto == --http2 ]] && h2[$name]=$(<"$tmp/version")
      python3 - "$tmp/answer.json" "$tmp/$body.json" "$name" "$body" <<'PY'
import json, sys
path, sent, name, body = sys.argv[1:]
r = json.load(open(path))["response"]
assert r["uid"] == json.load(open(sent))["request"]["uid"], (name, body, r)
assert r["allowed"] is (body == "accepted"), (name, body, r)
assert not r.get("patch"), (name, body, r)
PY
    done
  done
done

h2summary() { # H2LOAD_OUTPUT LOG_FILE -> "req/s p50 p99 errors"
  python3 - "$1" "$2" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", t).group(1))
m = re.search(r"requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", t)
c = re.search(r"status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", t)
us = sorted(int(l.split("\t")[2]) for l in open(sys.argv[2]) if l.split("\t")[1] != "-1")
done = int(re.search(r"requests: \d+ total, \d+ started, (\d+) done", t).group(1))
assert abs(len(us) - done) <= 64, f"h2load's log has {len(us)} requests, its summary {done}"
pct = lambda p: us[min(len(us) - 1, int(p / 100 * len(us)))] / 1000
print(f"{rps:.0f} {pct(50):.3f} {pct(99):.3f} {sum(map(int, m.groups() + c.groups()))}")
PY
}
run() { # NAME BODY PROTO SECONDS -> "req/s p50 p99 errors" (h2 where the server offers no h2: "-")
  local u=${url[$1]}
  if [[ $3 == h1 ]]; then
    taskset -c "$client_cpu" wrk -t1 -c"$conns" -d"$4s" --latency -s "$tmp/$2.lua" "$u" >"$tmp/wrk.out"
    python3 scripts/wrk-summary.py "$tmp/wrk.out" 3
  elif [[ ${h2[$1]} != 2 ]]; then
    echo "- - - -"
  else
    rm -f "$tmp/h2.log" # h2load appends to its log file
    taskset -c "$client_cpu" h2load -t1 -c2 -m"$((conns / 2))" -D"$4" -d "$tmp/$2.json" \
      -H 'Content-Type: application/json' --log-file="$tmp/h2.log" "$u" >"$tmp/h2.out"
    grep -q '^Application protocol: h2$' "$tmp/h2.out" || { say "h2load did not speak h2 to $1"; exit 1; }
    h2summary "$tmp/h2.out" "$tmp/h2.log"
  fi
}

# Warm-up: every server, body and client, untimed; then a rest.
for name in $servers; do for body in $bodies; do for proto in h1 h2; do run "$name" "$body" "$proto" 2 >/dev/null; done; done; done
sleep 2
for name in $servers; do echo "$name rest $(rss "$name")" >>"$rss_log"; done

echo "native: $(basename "$native") ($(stat -c %s "$native") B); Go: gowebhook ($(stat -c %s "$gobin/gowebhook") B, $(go env GOVERSION)); $(policy-server --version 2>/dev/null | head -n1); $(spin --version | head -n1)"
echo "$(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)); servers on CPU $server_cpu, clients on CPU $client_cpu (taskset); TLS ECDSA P-256; ${secs} s a run, $rounds rounds; wrk -t1 -c$conns (HTTP/1.1), h2load -t1 -c2 -m$((conns / 2)) (HTTP/2); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| round | server | body | client | req/s | p50 ms | p99 ms | errors | RSS after, KiB |"
echo "|---|---|---|---|---|---|---|---|---|"
results=$tmp/results
: >"$results"
read -r -a order <<<"$servers"
for ((round = 1; round <= rounds; round++)); do
  for body in $bodies; do
    for proto in h1 h2; do
      for name in "${order[@]}"; do
        read -r rps p50 p99 errs <<<"$(run "$name" "$body" "$proto" "$secs")"
        [[ $rps == - ]] && continue
        mem=$(rss "$name")
        echo "$name run $mem" >>"$rss_log"
        echo "$round $name $body $proto $rps $p50 $p99 $errs" >>"$results"
        echo "| $round | $name | $body | $([[ $proto == h1 ]] && echo "wrk HTTP/1.1" || echo "h2load HTTP/2") | $rps | $p50 | $p99 | $errs | $mem |"
      done
    done
  done
  order=("${order[@]:1}" "${order[0]}")
done
for name in $servers; do
  kill -0 "${pid_of[$name]}" 2>/dev/null || { say "$name died during the runs"; exit 1; }
  echo "$name end $(rss "$name")" >>"$rss_log"
done
echo
echo "load average at end of the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" "$rss_log" <<'PY'
import statistics, sys
from collections import defaultdict
rows = [l.split() for l in open(sys.argv[1])]
rps, p99, p50 = defaultdict(list), defaultdict(list), defaultdict(list)
for rnd, name, body, proto, r, m50, m99, errs in rows:
    rps[(name, body, proto)].append(float(r))
    p50[(name, body, proto)].append(float(m50))
    p99[(name, body, proto)].append(float(m99))
rss = defaultdict(dict)
for name, when, kib in (l.split() for l in open(sys.argv[2])):
    rss[name].setdefault(when, []).append(int(kib))
names = ["native", "go", "policy-server", "spin"]
cases = [(b, p) for b in ("accepted", "rejected") for p in ("h1", "h2")]
label = {"h1": "HTTP/1.1", "h2": "HTTP/2"}
print()
print("Over the rounds: req/s is the mean, p50 and p99 the median of the rounds' figures.")
print()
print("| server | body | protocol | req/s | p50 ms | p99 ms |")
print("|---|---|---|---|---|---|")
for name in names:
    for b, p in cases:
        k = (name, b, p)
        if k in rps:
            print(f"| {name} | {b} | {label[p]} | {statistics.mean(rps[k]):.0f} | {statistics.median(p50[k]):.3f} | {statistics.median(p99[k]):.3f} |")
print()
print("| server | RSS after start, KiB | at rest after warm-up | most after a run | at the end |")
print("|---|---|---|---|---|")
for name in names:
    r = rss[name]
    print(f"| {name} | {r['start'][0]} | {r['rest'][0]} | {max(r['run'])} | {r['end'][0]} |")
print()
print("| ratio | body | protocol | req/s | p99 | target | met |")
print("|---|---|---|---|---|---|---|")
verdicts = []
for other, want in (("go", 1.3), ("policy-server", 3.0), ("spin", 2.0)):
    for b, p in cases:
        n, o = ("native", b, p), (other, b, p)
        if n not in rps or o not in rps:
            print(f"| native / {other} | {b} | {label[p]} | (no {label[p]}) | | | |")
            continue
        ratio = sum(rps[n]) / sum(rps[o])
        p99r = statistics.median(p99[n]) / statistics.median(p99[o])
        target = f"req/s at least {want}x"
        ok = ratio >= want
        if other == "go":
            target += ", p99 at most Go's"
            ok = ok and p99r <= 1
        verdicts.append(ok)
        print(f"| native / {other} | {b} | {label[p]} | {ratio:.2f} | {p99r:.2f} | {target} | {'met' if ok else 'not met'} |")
rest = rss["native"]["rest"][0] / rss["go"]["rest"][0]
print(f"| native / go | RSS at rest | | {rest:.2f} | | at most 0.5 | {'met' if rest <= 0.5 else 'not met'} |")
PY

# Soak: the native server alone, SOAK_REQUESTS in 20 chunks, RSS after each.
chunks=20
per=$(((soak + chunks - 1) / chunks))
before=$(rss native)
samples=()
errors=0
sent=0
soak_start=$(date +%s)
for ((i = 0; i < chunks; i++)); do
  if ((i % 2)); then body=rejected; else body=accepted; fi
  # HTTP/1.1 (--h1): one request in flight per connection (-m would pipeline), so $conns
  # connections; HTTP/2: as in the runs.
  if ((i % 4 < 2)); then proto=(-c2 -m"$((conns / 2))"); else proto=(--h1 -c"$conns" -m1); fi
  taskset -c "$client_cpu" h2load -t1 "${proto[@]}" -n"$per" -d "$tmp/$body.json" \
    -H 'Content-Type: application/json' "${url[native]}" >"$tmp/soak.out"
  finished=$(sed -n 's/^requests: [0-9]* total, [0-9]* started, \([0-9]*\) done,.*/\1/p' "$tmp/soak.out")
  ok2xx=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' "$tmp/soak.out")
  sent=$((sent + finished))
  errors=$((errors + per - ok2xx))
  samples+=("$(rss native)")
done
soak_secs=$(($(date +%s) - soak_start))
echo
python3 - "$soak" "$sent" "$errors" "$soak_secs" "$before" "$per" "${samples[@]}" <<'PY'
import sys
soak, sent, errors, secs, before, per = map(int, sys.argv[1:7])
s = [int(x) for x in sys.argv[7:]]
q = max(1, len(s) // 4)
head, tail = max(s[:q]), max(s[q:]) if s[q:] else max(s[:q])
allow = max(256, head * 5 // 100)
flat = tail - head <= allow
print(f"soak (native): {sent} requests in {secs} s ({sent / max(secs, 1):.0f} req/s), {len(s)} chunks of {per} "
      f"(h2load, bodies alternating accepted/rejected, two chunks HTTP/2 then two HTTP/1.1), non-2xx or failed: {errors}")
print(f"RSS KiB: at rest before {before}; after each chunk: first {s[0]}, last {s[-1]}, most {max(s)}, least {min(s)}; "
      f"{'flat' if flat else 'NOT flat'} (after the first quarter at most {tail - head:+d} KiB over its most, allowed {allow})")
print("samples: " + " ".join(map(str, s)))
PY
