#!/usr/bin/env bash
# The guest of $ARCH has only the devices it uses: QEMU_GUEST (lib.sh),
# started paused and inspected over QMP (check-guest-devices.py).
. "$(dirname "$0")/lib.sh"
arch_setup
step "asking QEMU which devices the $ARCH guest has (${QEMU[*]})"
python3 "$TOP/scripts/check-guest-devices.py" -- "${QEMU_GUEST[@]}"
