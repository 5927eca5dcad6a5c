#!/usr/bin/env bash
# Evaluates every example pair of examples/examples.txt through kwctl and prints each verdict.
# Usage: scripts/run-examples.sh POLICY.wasm
set -euo pipefail
policy=${1:?usage: $0 POLICY.wasm}
cd "$(dirname "$0")/.."
command -v kwctl >/dev/null || { echo "kwctl is not on PATH (see README: Prerequisites)" >&2; exit 2; }
# A private kwctl store, so runs never share state with the user's own.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CONFIG_HOME=$tmp/cfg XDG_CACHE_HOME=$tmp/cache XDG_DATA_HOME=$tmp/data
export RUST_LOG=${RUST_LOG:-kwctl=error,policy_evaluator=error,sigstore=error}
n=0
while read -r settings request; do
  case "$settings" in ''|'#'*) continue ;; esac
  n=$((n + 1))
  out=$(kwctl run "$policy" -r "examples/requests/$request" --settings-path "examples/settings/$settings" 2>"$tmp/err") || {
    echo "== $request with $settings: kwctl failed" >&2; cat "$tmp/err" >&2; exit 1; }
  verdict=$(printf '%s\n' "$out" | tail -n 1)
  printf '== %s with settings/%s\n' "$request" "$settings"
  python3 - "$verdict" <<'PY'
import base64, json, sys
v = json.loads(sys.argv[1])
if not v.get("allowed"):
    print("   REJECTED (%s)" % v.get("status", {}).get("code"))
    for line in v.get("status", {}).get("message", "").split("; "):
        print("     -", line)
elif v.get("patch"):
    print("   ALLOWED with mutation:")
    for op in json.loads(base64.b64decode(v["patch"])):
        print("     %s %s = %s" % (op["op"], op["path"], json.dumps(op.get("value"))))
else:
    print("   ALLOWED")
PY
done < examples/examples.txt
echo "$n examples evaluated through kwctl $(kwctl --version 2>/dev/null | head -n1 | awk '{print $NF}')"
