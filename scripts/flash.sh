#!/usr/bin/env bash
# Builds the reference-board image (firmware/image-board), flashes it over the ST-LINK of the
# STM32H747I-DISCO with probe-rs and streams the defmt logs over RTT (Ctrl-C stops the logs;
# the reader keeps running).
#
#   scripts/flash.sh             build, flash, logs
#   scripts/flash.sh --no-logs   build, flash, reset, exit
#   DEFMT_LOG=debug scripts/flash.sh   more detail (NFC layers); trace for every frame
#   PROBE=<VID:PID[:serial]> scripts/flash.sh   pick one of several probes
set -euo pipefail
cd "$(dirname "$0")/.."
chip="${CHIP:-STM32H747XIHx}"
target_dir="${SHIKAKU_IMAGE_TARGET_DIR:-$PWD/target/images-board}"
elf="$target_dir/thumbv7em-none-eabihf/release/shikaku-image-board"

if ! command -v probe-rs >/dev/null; then
  echo "probe-rs is missing: cargo install probe-rs-tools --locked" >&2
  echo "(on Linux also: sudo cp scripts/99-shikaku.rules /etc/udev/rules.d/ && sudo udevadm control --reload)" >&2
  exit 1
fi

(cd firmware/image-board && CARGO_TARGET_DIR="$target_dir" DEFMT_LOG="${DEFMT_LOG:-info}" cargo build --release --quiet)
probe=()
[ -n "${PROBE:-}" ] && probe=(--probe "$PROBE")

if [ "${1:-}" = "--no-logs" ]; then
  probe-rs download --chip "$chip" "${probe[@]}" "$elf"
  probe-rs reset --chip "$chip" "${probe[@]}"
else
  # Flashes, resets, then prints each defmt frame decoded with the ELF's tables.
  probe-rs run --chip "$chip" "${probe[@]}" --log-format '{t} {L} {s}' "$elf"
fi
