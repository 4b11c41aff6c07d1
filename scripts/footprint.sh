#!/usr/bin/env bash
# Flash and RAM the protocol crate costs on thumbv7em-none-eabihf: builds a probe image with
# and without the protocol and prints the difference (text = flash code+rodata, data+bss = RAM).
set -euo pipefail
cd "$(dirname "$0")/../protocol/footprint"
size_of() { llvm-size -A "$1" | awk '
  /^\.text|^\.rodata|^\.vector_table/ {flash+=$2}
  /^\.data/ {flash+=$2; ram+=$2}
  /^\.bss|^\.uninit/ {ram+=$2}
  END {print flash, ram}'; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/../../target}/footprint"
cargo build --release --quiet
read -r base_flash base_ram < <(size_of "$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/shikaku-protocol-footprint")
cargo build --release --quiet --features protocol
read -r flash ram < <(size_of "$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/shikaku-protocol-footprint")
echo "protocol on thumbv7em-none-eabihf (opt-level s, LTO):"
echo "  flash: $((flash - base_flash)) bytes (code + constants of pairing, MAC, link, deframer, all messages)"
echo "  RAM (static buffers of the probe: deframer, 4-result outbox, one TX frame): $((ram - base_ram)) bytes"
echo "RAM by component (size_of on the host; 64-bit usize fields shrink on the MCU):"
cd ../.. && env -u CARGO_TARGET_DIR cargo run --quiet -p shikaku-protocol --example protocol_sizes
