#!/usr/bin/env bash
# make bench: build the C baseline next to asyncn, boot the guest in bench
# mode, and turn the figures it prints into build/bench/{bench.json,
# bench.svg} and a table.
. "$(dirname "$0")/lib.sh"
arch_setup
"$TOP/scripts/build-bench-module.sh"
"$TOP/scripts/build-initramfs.sh"
GUEST_TIMEOUT=${GUEST_TIMEOUT:-1200} "$TOP/scripts/run-guest.sh" bench
mkdir -p "$BUILD/bench"
python3 "$TOP/scripts/bench-report.py" "$OUT/guest-bench.log" "$BUILD/bench"
