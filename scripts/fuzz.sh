#!/usr/bin/env bash
# Runs each cargo-fuzz target for FUZZ_SECONDS (default 600), seeded from the checked-in
# seeds. `--smoke` is the short CI run. Crashes land in <crate>/fuzz/artifacts/<target>/;
# turn each into a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${FUZZ_SECONDS:-600}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
# cargo-fuzz needs nightly flags; use nightly when present, else the pinned stable in
# bootstrap mode (same compiler, unstable flags allowed).
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  FUZZ=(cargo +nightly fuzz)
else
  FUZZ=(env RUSTC_BOOTSTRAP=1 cargo fuzz)
fi

run_target() { # crate-dir target seeds-dir
  local dir="$1" target="$2" seeds="$3"
  mkdir -p "$dir/fuzz/corpus/$target"
  echo "fuzz: $dir $target for ${SECONDS_PER_TARGET}s"
  (cd "$dir/fuzz" && "${FUZZ[@]}" run "$target" "corpus/$target" "$seeds" -- \
      -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 2>&1 \
    | grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ *DONE|==[0-9]+== ERROR|SUMMARY)' || true)
  if ls "$dir/fuzz/artifacts/$target"/crash-* >/dev/null 2>&1; then
    echo "fuzz: crash found in $target" >&2
    return 1
  fi
}

run_target protocol frame_parser seeds/frame_parser
