#!/usr/bin/env bash
# Coverage-guided fuzzing of the core with AFL++ (cargo-afl, stable Rust): builds the
# instrumented targets (fuzz/, bin afl-target), writes seed corpora from the shared case
# table, runs each target for SECONDS, then prints what AFL++ measured and replays every
# saved crash or hang through the plain build to show which invariant broke.
# Usage: scripts/fuzz.sh [SECONDS per target, default 600] [TARGET...]
# Needs `cargo install cargo-afl` (.ci/run installs it). Findings stay under
# target/fuzz/afl/<target>/default/{crashes,hangs}; the corpus grows across runs, which
# resume (AFL_AUTORESUME), and the figures printed are then totals over those runs.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$root"
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(quantity settings request workload yaml)
target_dir=$target
out=$target_dir/fuzz
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_AUTORESUME=1

# Instrumented build in its own target folder (its RUSTFLAGS would rebuild the usual one).
CARGO_TARGET_DIR=$target_dir/afl cargo afl build -q --release -p resource-limits-fuzz --features afl --bin afl-target
cargo build -q --release -p resource-limits-fuzz --bin fuzz-random
"$target_dir/release/fuzz-random" seeds "$out/seeds" >/dev/null
mkdir -p "$out/afl"

failed=0
printf '| target | seconds | executions | exec/s | corpus | coverage | crashes | hangs |\n|---|---|---|---|---|---|---|---|\n'
for t in "${targets[@]}"; do
  log=$out/afl/$t.log
  cargo afl fuzz -i "$out/seeds/$t" -o "$out/afl/$t" -V "$secs" -t 2000 \
    "$target_dir/afl/release/afl-target" "$t" >"$log" 2>&1 || { echo "afl-fuzz $t failed:" >&2; tail -20 "$log" >&2; exit 1; }
  stats=$out/afl/$t/default/fuzzer_stats
  get() { awk -F': ' -v k="$1" '$1 ~ "^"k" *$" {print $2}' "$stats"; }
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$(get run_time)" "$(get execs_done)" \
    "$(get execs_per_sec)" "$(get corpus_count)" "$(get bitmap_cvg)" "$(get saved_crashes)" "$(get saved_hangs)"
  for f in "$out/afl/$t/default/crashes"/id:* "$out/afl/$t/default/hangs"/id:*; do
    [ -e "$f" ] || continue
    failed=1
    echo "finding: $f" >&2
    "$target_dir/release/fuzz-random" replay "$t" "$f" >&2 || true
  done
done
if [ "$failed" != 0 ]; then
  echo "fuzzing found inputs that break an invariant (above): make each a case in tests/cases" >&2
  exit 1
fi
