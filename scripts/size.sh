#!/usr/bin/env bash
# Flash and RAM of the reader images on thumbv7em-none-eabihf: by section and by crate for the
# board image (firmware/image-board) and the QEMU image (firmware/image-qemu), then the stack
# high-water mark measured in a QEMU run (stack painted at boot; the image reports the lowest
# overwritten word after a PIN and a 目視 reception driven by the host driver).
#
#   scripts/size.sh            all of it
#   scripts/size.sh --static   sections and crates only (no QEMU run)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
images="${SHIKAKU_IMAGE_TARGET_DIR:-$root/target/images}"
board_dir="${SHIKAKU_BOARD_TARGET_DIR:-$root/target/images-board}"

(cd firmware/image-board && CARGO_TARGET_DIR="$board_dir" cargo build --release --quiet)
bash scripts/qemu.sh build >/dev/null

sections() {
  llvm-size -A "$1" | awk '
    /^\.vector_table|^\.text|^\.rodata/ {flash+=$2; printf "  %-16s %8d B  flash\n", $1, $2}
    /^\.data/ {flash+=$2; ram+=$2; printf "  %-16s %8d B  flash + RAM\n", $1, $2}
    /^\.bss|^\.uninit/ {ram+=$2; printf "  %-16s %8d B  RAM\n", $1, $2}
    END {printf "  %-16s %8d B flash, %d B static RAM\n", "total", flash, ram}'
}

# Symbol sizes summed by the crate that defines them (demangled path's first segment; generic
# code is counted where it was instantiated from).
crates() {
  llvm-nm --print-size --size-sort --radix=d -C "$1" | python3 -c '
import re, sys, collections
flash, ram = collections.Counter(), collections.Counter()
for line in sys.stdin:
    parts = line.split(None, 3)
    if len(parts) < 4:
        continue
    size, kind, name = int(parts[1]), parts[2], parts[3].strip()
    name = re.sub(r"^<(?:impl )?", "", name)
    name = re.sub(r"^&(mut )?", "", name)
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(::|$| as )", name)
    crate = m.group(1) if m else "(other)"
    if crate in ("core", "alloc", "compiler_builtins", "__aeabi", "memcpy", "memset", "memmove"):
        crate = "core+builtins"
    (ram if kind in "bBdD" else flash)[crate] += size
for what, c in (("flash", flash), ("static RAM", ram)):
    top = c.most_common(12)
    print("  by crate, %s: " % what + ", ".join("%s %d" % kv for kv in top))
'
}

for img in "board|$board_dir/thumbv7em-none-eabihf/release/shikaku-image-board|STM32H747I-DISCO, Cortex-M7" \
           "qemu|$images/thumbv7em-none-eabihf/release/shikaku-image-qemu|QEMU mps2-an386, Cortex-M4"; do
  IFS='|' read -r name elf what <<<"$img"
  echo "$name image ($what), opt-level s, LTO:"
  sections "$elf"
  crates "$elf"
done

[ "${1:-}" = "--static" ] && exit 0
echo "stack high-water mark (QEMU run of a PIN and a 目視 reception):"
# The measurement is a line the end-to-end test prints; a failed run must say so, not print
# nothing.
log=$(SHIKAKU_IMAGE_TARGET_DIR="$images" SHIKAKU_REQUIRE_QEMU=1 \
  cargo test --quiet -p shikaku-hil --test qemu_e2e qemu_image_runs -- --nocapture 2>&1) || {
  printf '%s\n' "$log" | tail -20 >&2
  echo "size.sh: the QEMU run for the stack high-water mark failed" >&2
  exit 1
}
printf '%s\n' "$log" | grep -E "stack high-water mark" | sed 's/^/  /'
