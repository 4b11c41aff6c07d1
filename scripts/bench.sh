#!/usr/bin/env bash
# Benchmarks, measured side by side in one run on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "protocol: frames per second, encode and decode on a secured link (criterion)"
cargo bench --locked -p shikaku-protocol --bench frames -- --warm-up-time 1 --measurement-time 3 2>/dev/null \
  | awk '/^frames\//{name=$1; shown=0} /thrpt:/ && !shown {gsub(/\[|\]/,""); u=$5; sub("elem/s", "", u); printf "  %-36s %s %sframes/s\n", name, $4, u; shown=1}'

echo
echo "card layer: APDUs and time on air per flow vs the physical lower bound (model in the tool's header)"
cargo run --locked --release -q -p shikaku-hil --bin shikaku-airtime
