#!/usr/bin/env bash
# The QEMU rig: builds the reader image for mps2-an386 (Cortex-M4, thumbv7em-none-eabihf) and
# runs it.
#
#   scripts/qemu.sh build        builds the image and the deliberately broken one
#                                (--features broken-session) into target/images
#   scripts/qemu.sh test         build + the on-target self-tests (semihosting), the sealed link
#                                counted on the target + the end-to-end
#                                tests (hil-tests/tests/qemu_e2e.rs) + the store across reboots
#                                and power cuts (hil-tests/tests/qemu_store.rs)
#   scripts/qemu.sh run [args]   build + the bridge with a persona's card: QEMU's host UART on a
#                                TCP port for `shikaku` (see `shikaku-qemu-bridge --help`)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
images="${SHIKAKU_IMAGE_TARGET_DIR:-$root/target/images}"

build() {
  (cd firmware/image-qemu && CARGO_TARGET_DIR="$images" cargo build --release --quiet)
  (cd firmware/image-qemu && CARGO_TARGET_DIR="$images/broken" cargo build --release --quiet --features broken-session)
  echo "QEMU image: $images/thumbv7em-none-eabihf/release/shikaku-image-qemu"
}

case "${1:-test}" in
  build) build ;;
  test)
    build
    echo "on-target self-tests (Cortex-M4 under QEMU):"
    timeout 120 qemu-system-arm -machine mps2-an386 -nographic -monitor none \
      -semihosting-config enable=on,target=native \
      -kernel "$images/thumbv7em-none-eabihf/release/shikaku-selftest"
    echo "the sealed link on the Cortex-M4 (instructions per frame, QEMU -icount; scripts/link-cost.sh):"
    cost="$(timeout 120 qemu-system-arm -machine mps2-an386 -icount shift=0 -nographic -monitor none \
      -semihosting-config enable=on,target=native -kernel "$images/thumbv7em-none-eabihf/release/shikaku-linkcost")"
    echo "$cost"
    if echo "$cost" | grep -q FAILED || ! echo "$cost" | grep -q '^linkcost|calibration|200000|200000$'; then
      echo "the sealed link did not round-trip on the target, or the count is off" >&2
      exit 1
    fi
    SHIKAKU_IMAGE_TARGET_DIR="$images" SHIKAKU_REQUIRE_QEMU=1 \
      cargo test --locked --workspace --test qemu_e2e --test qemu_store -- --test-threads 1 --nocapture
    ;;
  run)
    shift
    build
    cargo run --locked --quiet -p shikaku-hil --bin shikaku-qemu-bridge -- \
      --image "$images/thumbv7em-none-eabihf/release/shikaku-image-qemu" "$@"
    ;;
  *) echo "usage: $0 [build|test|run ...]" >&2; exit 2 ;;
esac
