#!/usr/bin/env bash
# Runs every test of shikaku: formatting, lints, the MCU build, host tests (unit, property,
# scenario), the PC/SC rig with real pcscd + vpcd, and a short fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# The PC/SC tests must run here, not skip: setup.sh installs pcscd and vpcd.
export SHIKAKU_REQUIRE_PCSC=1
# CI's disk is small: incremental caches would roughly double target/ and a one-shot build
# gains nothing from them.
export CARGO_INCREMENTAL=0

step() { printf '\n=== %s ===\n' "$*"; }

step "setup"
bash scripts/setup.sh

step "rustfmt"
cargo fmt --all -- --check

step "clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "no_std build for thumbv7em-none-eabihf"
cargo build --locked --release -p shikaku-protocol -p shikaku-firmware --target thumbv7em-none-eabihf

step "host tests"
cargo test --workspace --locked

step "the simulated rig catches a broken link endpoint (must FAIL with shikaku-protocol/broken-endpoint)"
# The rig runs the shipping ReaderEndpoint/HostEndpoint: with an endpoint that never matches an
# acknowledgement, the scenario tests must fail. A pass here means the rig no longer runs it.
if cargo test --locked -q -p shikaku-hil --test rig_scenarios --features shikaku-protocol/broken-endpoint \
    >target/broken-endpoint.log 2>&1; then
  echo "the rig's scenarios passed with a broken endpoint: they no longer exercise it" >&2
  exit 1
fi
grep -E "^test result" target/broken-endpoint.log
grep -c "never acknowledged" target/broken-endpoint.log | sed 's/^/scenarios that saw the unacknowledged outbox: /'

step "face engine: parity with dlib stage by stage, and the evaluation report (target/face-eval)"
bash scripts/face-parity.sh
SHIKAKU_REQUIRE_MODELS=1 bash scripts/face-eval.sh

step "reader images: QEMU rig end to end (real thumbv7em binary) and the board image build"
bash scripts/qemu.sh test
(cd firmware/image-board && CARGO_TARGET_DIR="$PWD/../../target/images-board" cargo build --release --quiet)

step "protocol footprint"
bash scripts/footprint.sh

step "fuzz smoke (${FUZZ_SECONDS:-10}s per target)"
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" bash scripts/fuzz.sh --smoke

echo
echo "disk used by build outputs: $(du -sh target 2>/dev/null | cut -f1) in target/"
echo "all tests passed"
