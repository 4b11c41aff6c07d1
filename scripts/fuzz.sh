#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS (default 600) each, one after the other, seeded
# from the checked-in seeds and the fixtures:
#   protocol/fuzz      frame_parser     deframer, frame view, link, message decoder
#                      sealed_link      paired reader+host endpoints under faults and an attacker:
#                                       results exactly once and as queued, nothing forged taken
#                      pairing          pairing mode, staff accept/reject, attacker exchanges: the
#                                       reader's key changes only on accept, attempts bounded
#   firmware/fuzz      iso_dep_blocks   ISO 14443-4 (T=CL) block handler vs a PICC sending anything
#                      card_responses   applet clients / card-op driver vs arbitrary response APDUs
#                      card_parsers     BER-TLV, DER/X.509, CV certificate, card records, JP2 header
#                      jp2_decode       the face engine's JPEG 2000 decoder (card-face photo)
#   host-driver/fuzz   req_xml          the receipt computer's `req` folder XML reader
# `--smoke` is the short CI run (FUZZ_SECONDS default 15 there); `--long SECONDS` runs every
# target for SECONDS and ends with a table of seconds and executions per target (for
# BENCHMARKS.md). Crashes land in
# <crate>/fuzz/artifacts/<target>/; turn each into a regression test. One line per target is
# appended to target/fuzz-stats.tsv (date, target, seconds, executions, corpus size).
# Pick targets with FUZZ_TARGETS="card_parsers req_xml".
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=0
LONG=0
case "${1:-}" in
  --smoke) SMOKE=1 ;;
  --long)
    LONG=1
    [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "usage: $0 --long SECONDS" >&2; exit 2; }
    FUZZ_SECONDS="$2"
    ;;
  "") ;;
  *) echo "usage: $0 [--smoke | --long SECONDS]" >&2; exit 2 ;;
esac
# The smoke run builds without AddressSanitizer (FUZZ_SANITIZER, default `none` there,
# `address` for the long runs): instrumenting every C and Rust dependency of the host driver
# (SQLite, …) makes a fresh build several times slower, and the code under test is safe Rust.
if ((SMOKE)); then
  SECONDS_PER_TARGET="${FUZZ_SECONDS:-15}"
  SANITIZER="${FUZZ_SANITIZER:-none}"
else
  SECONDS_PER_TARGET="${FUZZ_SECONDS:-600}"
  SANITIZER="${FUZZ_SANITIZER:-address}"
fi

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

# The firmware seeds are made from the fixtures (not checked in).
if [[ -x "$(command -v python3)" ]]; then
  python3 firmware/fuzz/make_seeds.py >/dev/null || echo "fuzz: firmware seeds not made (no fixtures?)" >&2
fi

mkdir -p target
STATS=target/fuzz-stats.tsv
# One build dir for the three fuzz workspaces: they share most dependencies, and CI's disk is
# small.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/fuzz}"
FAILED=()
SUMMARY=()

run_target() { # crate-dir target seeds-dir
  local dir="$1" target="$2" seeds="$3"
  if [[ -n "${FUZZ_TARGETS:-}" && " $FUZZ_TARGETS " != *" $target "* ]]; then
    return 0
  fi
  mkdir -p "$dir/fuzz/corpus/$target" "$dir/fuzz/$seeds"
  echo "fuzz: $dir $target for ${SECONDS_PER_TARGET}s"
  local log
  log="$(mktemp)"
  local start=$SECONDS
  (cd "$dir/fuzz" && "${FUZZ[@]}" run --sanitizer "$SANITIZER" "$target" "corpus/$target" "$seeds" -- \
      -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -rss_limit_mb=1024 >"$log" 2>&1) || true
  local took=$((SECONDS - start))
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ *DONE|==[0-9]+== ERROR|SUMMARY|error)' "$log" || true
  local execs corpus fuzzed
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  # libFuzzer's own final line, `#N DONE ... exec/s: R`, when the stats are missing.
  [[ -n "$execs" ]] || execs="$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$log" | tail -1)"
  fuzzed="$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -1)"
  SUMMARY+=("$(printf '%-16s %8s %10s %12s' "$target" "${fuzzed:-?}" "$took" "${execs:-?}")")
  corpus="$(find "$dir/fuzz/corpus/$target" -type f | wc -l)"
  printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$target" "$took" "${execs:-?}" "$corpus" >>"$STATS"
  echo "fuzz: $target: ${execs:-?} executions in ${took}s (build included), corpus $corpus"
  if ls "$dir/fuzz/artifacts/$target"/crash-* >/dev/null 2>&1 || grep -qE '^==[0-9]+== ERROR|^SUMMARY' "$log"; then
    echo "fuzz: crash found in $target (see $dir/fuzz/artifacts/$target)" >&2
    FAILED+=("$target")
  elif [[ -z "$execs" ]]; then
    tail -20 "$log" >&2
    echo "fuzz: $target did not run" >&2
    FAILED+=("$target")
  fi
  rm -f "$log"
}

run_target protocol frame_parser seeds/frame_parser
run_target protocol sealed_link seeds/sealed_link
run_target protocol pairing seeds/pairing
run_target firmware iso_dep_blocks seeds/iso_dep_blocks
run_target firmware card_responses seeds/card_responses
run_target firmware card_parsers seeds/card_parsers
run_target firmware jp2_decode seeds/jp2_decode
run_target host-driver req_xml seeds/req_xml

if ((LONG)); then
  echo
  echo "fuzz: --long ${SECONDS_PER_TARGET}s per target, sanitizer $SANITIZER"
  printf '%-16s %8s %10s %12s\n' target fuzzed_s wall_s executions
  printf '%s\n' "${SUMMARY[@]}"
fi

if ((${#FAILED[@]})); then
  echo "fuzz: failed: ${FAILED[*]}" >&2
  exit 1
fi
