#!/usr/bin/env bash
# Long fuzzing runs: each target of fuzz/ (cargo-fuzz, libFuzzer, no sanitizer so it builds on the
# stable toolchain) for SECONDS, one after another (or FUZZ_PARALLEL at once), growing its corpus
# under fuzz/corpus/TARGET and then minimising it, so what is committed stays small. A finding
# (panic, timeout, out of memory) is kept in fuzz/artifacts/TARGET/ and named at the end; fix it,
# copy the input into fuzz/corpus/TARGET/ (the tests replay it) and run again.
#
#   bash scripts/fuzz.sh                 # every target, 600 s each
#   bash scripts/fuzz.sh 60 gate scope   # two targets, a minute each
#
# Each run's line (target, seconds, executions, corpus, findings) is appended to
# fuzz/runs.tsv, for RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
shift || true
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^exorun-fuzz$')
fi
case $seconds in
  '' | *[!0-9]*) echo "fuzz.sh: the first argument is the seconds per target (a whole number), not '$seconds'" >&2; exit 2 ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
(cd fuzz && cargo fuzz build --sanitizer none)

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# One target: the run, its figures, then the corpus minimised in place.
run_one() {
  local target=$1 log=$logs/$1.log
  local corpus=corpus/$target
  mkdir -p "fuzz/$corpus" "fuzz/artifacts/$target"
  local status=0
  (cd fuzz && cargo fuzz run --sanitizer none "$target" "$corpus" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1) || status=$?
  local executions
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  local findings
  findings=$(find "fuzz/artifacts/$target" -type f -newer "$log.start" | wc -l)
  (cd fuzz && cargo fuzz cmin --sanitizer none "$target" "$corpus" >"$log.cmin" 2>&1) || true
  local kept
  kept=$(find "fuzz/$corpus" -type f | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%F)" "$target" "$seconds" "${executions:-?}" "$kept" "$findings" \
    | tee -a fuzz/runs.tsv
  if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then
    echo "fuzz.sh: $target found something (exit $status): fuzz/artifacts/$target/; the log's end:" >&2
    tail -n 30 "$log" >&2
    return 1
  fi
}

[ -f fuzz/runs.tsv ] || printf 'date\ttarget\tseconds\texecutions\tcorpus\tfindings\n' >fuzz/runs.tsv
failed=()
parallel=${FUZZ_PARALLEL:-1}
running=0
for target in "${targets[@]}"; do
  touch "$logs/$target.log.start"
  if [ "$parallel" -gt 1 ]; then
    run_one "$target" || touch "$logs/$target.failed" &
    running=$((running + 1))
    if [ "$running" -ge "$parallel" ]; then wait -n || true; running=$((running - 1)); fi
  else
    run_one "$target" || touch "$logs/$target.failed"
  fi
done
wait
for target in "${targets[@]}"; do
  [ -e "$logs/$target.failed" ] && failed+=("$target")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} target(s), $seconds s each, no findings"
