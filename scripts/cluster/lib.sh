# shellcheck shell=bash
# Shared by the cluster scripts (sourced): `root` is the
# repository, `target` Cargo's target folder (CARGO_TARGET_DIR when set, made absolute), `dir`
# the running cluster's folder (CLUSTER_DIR, else target/cluster/run).

# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
dir=${CLUSTER_DIR:-$target/cluster/run}

say() { echo "cluster: $*" >&2; }

# wait_for WHAT SECONDS COMMAND...: runs COMMAND until it succeeds, or fails after SECONDS.
wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS > deadline )); then say "$what not ready after ${seconds}s"; return 1; fi
    sleep 0.2
  done
}
