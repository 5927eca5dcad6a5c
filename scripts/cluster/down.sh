#!/usr/bin/env bash
# Stops what scripts/cluster/up.sh started (`make cluster-down`), newest first, and removes its
# folder (--keep-logs keeps the logs and certificates).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
keep=${1:-}
[[ -f $dir/pids ]] || { echo "cluster/down.sh: nothing running in $dir" >&2; exit 0; }
# The webhook host first (webhook.sh keeps its pid apart, since it restarts it).
if [[ -f $dir/webhook/pid ]]; then echo "webhook $(cat "$dir/webhook/pid")" >> "$dir/pids"; fi
tac "$dir/pids" | while read -r _name pid; do
  # Each was started with setsid: its process group is its pid.
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
done
rm -f "$dir/pids"
if [[ $keep == --keep-logs ]]; then
  rm -rf "$dir/etcd" "$dir/webhook"
else
  rm -rf "$dir"
fi
