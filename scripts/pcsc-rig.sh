#!/usr/bin/env bash
# PC/SC rig for CI and local runs: a real pcscd with the vsmartcard vpcd driver, and the virtual
# My Number card (shikaku-vcard) connected to it.
#
#   scripts/pcsc-rig.sh start [PERSONA]   start pcscd (unless one is already running) and the card
#   scripts/pcsc-rig.sh card PERSONA      (re)start only the card with another persona
#   scripts/pcsc-rig.sh stop              stop what this script started, clean up
#   scripts/pcsc-rig.sh status            show readers and card
#
# Works as root in a container without systemd: pcscd runs in the foreground in the background
# of this script (no --auto-exit), logs and pid files go to $RIG_DIR.
# Needs Debian packages: pcscd vsmartcard-vpcd opensc (and libpcsclite-dev pkg-config to build
# the pcsc tests). Environment:
#   RIG_DIR            state directory (default /tmp/shikaku-pcsc-rig)
#   VPCD_PORT          vpcd port of the reader to use (default 35963 = "Virtual PCD 00 00")
#   CARGO_TARGET_DIR   honoured when building shikaku-vcard
#   VCARD_ARGS         extra arguments for shikaku-vcard (e.g. "--atr contact -v")
#   RIG_NO_BUILD=1     use the already built shikaku-vcard instead of running cargo build
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RIG_DIR="${RIG_DIR:-/tmp/shikaku-pcsc-rig}"
VPCD_PORT="${VPCD_PORT:-35963}"
PCSCD_PID="$RIG_DIR/pcscd.pid"
VCARD_PID="$RIG_DIR/vcard.pid"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
VCARD_BIN="$TARGET_DIR/debug/shikaku-vcard"

log() { echo "pcsc-rig: $*" >&2; }
die() { log "$*"; exit 1; }

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pcscd_running() { pgrep -x pcscd >/dev/null 2>&1; }

wait_for() { # seconds description command...
    local secs=$1 what=$2; shift 2
    local deadline=$((SECONDS + secs))
    while ((SECONDS < deadline)); do
        if "$@"; then return 0; fi
        sleep 0.1
    done
    die "timed out after ${secs}s waiting for $what"
}

check_tools() {
    command -v pcscd >/dev/null || die "pcscd not installed (apt-get install pcscd vsmartcard-vpcd opensc)"
    ls /usr/lib/pcsc/drivers/serial/libifdvpcd.so >/dev/null 2>&1 \
        || ls /usr/lib/*/pcsc/drivers/serial/libifdvpcd.so >/dev/null 2>&1 \
        || die "vpcd driver not installed (apt-get install vsmartcard-vpcd)"
}

reader_listed() { command -v opensc-tool >/dev/null && opensc-tool -l 2>/dev/null | grep -q "Virtual PCD"; }

reader_name() { printf 'Virtual PCD 00 %02d' $((VPCD_PORT - 35963)); }

# "opensc-tool -l" shows card presence without running OpenSC's card drivers.
card_absent() { ! card_present; }

card_present() { command -v opensc-tool >/dev/null && opensc-tool -l 2>/dev/null | grep -Eq "^[0-9]+ +Yes .*$(reader_name)"; }

start_pcscd() {
    mkdir -p "$RIG_DIR"
    if alive "$PCSCD_PID"; then
        log "pcscd already running (ours, pid $(cat "$PCSCD_PID"))"
    elif pcscd_running; then
        log "pcscd already running (not ours); using it"
    else
        mkdir -p /run/pcscd 2>/dev/null || true
        log "starting pcscd -f"
        pcscd -f -i >"$RIG_DIR/pcscd.log" 2>&1 &
        echo $! >"$PCSCD_PID"
    fi
    wait_for 15 "vpcd to listen on port $VPCD_PORT" port_open "$VPCD_PORT"
    if command -v opensc-tool >/dev/null; then
        wait_for 15 "the Virtual PCD reader" reader_listed
    fi
    log "pcscd ready (vpcd on $VPCD_PORT)"
}

build_vcard() {
    if [[ "${RIG_NO_BUILD:-}" == 1 && -x "$VCARD_BIN" ]]; then return 0; fi
    log "building shikaku-vcard"
    (cd "$ROOT" && cargo build -q -p shikaku-hil --bin shikaku-vcard) || die "build failed"
}

stop_vcard() {
    if alive "$VCARD_PID"; then
        kill "$(cat "$VCARD_PID")" 2>/dev/null || true
        for _ in $(seq 50); do alive "$VCARD_PID" || break; sleep 0.1; done
        alive "$VCARD_PID" && kill -9 "$(cat "$VCARD_PID")" 2>/dev/null || true
        if command -v opensc-tool >/dev/null && pcscd_running; then
            wait_for 10 "the card to leave the reader" card_absent
        fi
    fi
    rm -f "$VCARD_PID"
}

start_vcard() {
    local persona=${1:-yamada}
    build_vcard
    stop_vcard
    log "starting shikaku-vcard --persona $persona --port $VPCD_PORT ${VCARD_ARGS:-}"
    # shellcheck disable=SC2086
    "$VCARD_BIN" --persona "$persona" --port "$VPCD_PORT" ${VCARD_ARGS:-} >"$RIG_DIR/vcard.log" 2>&1 &
    echo $! >"$VCARD_PID"
    if command -v opensc-tool >/dev/null; then
        wait_for 60 "the virtual card to be present" card_present
    else
        sleep 1
    fi
    alive "$VCARD_PID" || die "shikaku-vcard exited: $(tail -5 "$RIG_DIR/vcard.log")"
    log "card present: $persona"
}

stop_all() {
    stop_vcard
    if alive "$PCSCD_PID"; then
        log "stopping pcscd (pid $(cat "$PCSCD_PID"))"
        kill "$(cat "$PCSCD_PID")" 2>/dev/null || true
        for _ in $(seq 50); do alive "$PCSCD_PID" || break; sleep 0.1; done
        alive "$PCSCD_PID" && kill -9 "$(cat "$PCSCD_PID")" 2>/dev/null || true
    fi
    rm -f "$PCSCD_PID"
    log "stopped"
}

case "${1:-}" in
start)
    check_tools
    start_pcscd
    start_vcard "${2:-yamada}"
    ;;
pcscd)
    check_tools
    start_pcscd
    ;;
card)
    start_vcard "${2:?persona}"
    ;;
stop)
    stop_all
    ;;
status)
    alive "$PCSCD_PID" && echo "pcscd: ours, pid $(cat "$PCSCD_PID")" || { pcscd_running && echo "pcscd: running (not ours)" || echo "pcscd: not running"; }
    alive "$VCARD_PID" && echo "vcard: pid $(cat "$VCARD_PID")" || echo "vcard: not running"
    command -v opensc-tool >/dev/null && opensc-tool -l || true
    ;;
*)
    echo "usage: $0 start [PERSONA] | pcscd | card PERSONA | stop | status" >&2
    exit 2
    ;;
esac
