#!/usr/bin/env bash
# Flash and RAM on thumbv7em-none-eabihf of the protocol, the card layer and the session core:
# a probe image is built bare, then adding each layer; the differences are each layer's cost
# (flash = .vector_table + .text + .rodata + .data; RAM = .data + .bss + .uninit, statics only:
# the stack is measured by the QEMU rig).
set -euo pipefail
cd "$(dirname "$0")/../firmware/footprint"
size_of() { llvm-size -A "$1" | awk '
  /^\.text|^\.rodata|^\.vector_table/ {flash+=$2}
  /^\.data/ {flash+=$2; ram+=$2}
  /^\.bss|^\.uninit/ {ram+=$2}
  END {print flash, ram}'; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/../../target}/footprint"
bin="$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/shikaku-protocol-footprint"
measure() { cargo build --release --quiet "$@"; size_of "$bin"; }
read -r f0 r0 < <(measure)
read -r f1 r1 < <(measure --features protocol)
read -r f2 r2 < <(measure --features card)
read -r f3 r3 < <(measure --features session)
echo "on thumbv7em-none-eabihf (opt-level s, LTO), each layer added to the one before:"
printf '  %-58s flash %6d B   static RAM %6d B\n' \
  "protocol (pairing, MAC, link, deframer, every message)" $((f1 - f0)) $((r1 - r0)) \
  "card layer (Type B, ISO 14443-4, ISO 7816-4, applets, RSA)" $((f2 - f1)) $((r2 - r1)) \
  "session core (flows, screens, passcodes, expiry)" $((f3 - f2)) $((r3 - r2))
echo "  (protocol RAM = the probe's deframer + 4-result outbox + one TX frame; card RAM = one"
echo "   2 KB certificate buffer; session RAM = one Session)"
echo "RAM by component (size_of on the host; 64-bit usize fields shrink on the MCU):"
cd ../.. && env -u CARGO_TARGET_DIR cargo run --quiet -p shikaku-protocol --example protocol_sizes
env -u CARGO_TARGET_DIR cargo run --quiet -p shikaku-firmware --example session_sizes
