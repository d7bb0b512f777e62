#!/usr/bin/env bash
# Boot build/<arch>/{Image,initramfs.cpio.gz} in QEMU and judge the run.
#
#   run-guest.sh demo|test|stress
#
# STRESS_SECONDS, FUZZ_SECONDS, SEED, PROCS: the random runs in the guest
# (see asyncn-test stress --help); GUEST_TIMEOUT grows with them. ROUNDS:
# rounds of the benchmark.
#
# The console is streamed to the terminal and saved to
# build/<arch>/guest-<mode>.log. The run fails on a timeout, a kernel
# Oops/BUG/WARNING/panic, or a missing "ASYNCN-GUEST-RESULT: PASS".
. "$(dirname "$0")/lib.sh"
arch_setup

mode=${1:-test}
stress=${STRESS_SECONDS:-0}
fuzz=${FUZZ_SECONDS:-0}
timeout=${GUEST_TIMEOUT:-$((300 + 2 * (stress + fuzz)))}
pace=${PACE:-0}
random_runs="asyncn_stress=$stress asyncn_fuzz=$fuzz${SEED:+ asyncn_seed=$SEED}${PROCS:+ asyncn_procs=$PROCS}${ROUNDS:+ asyncn_rounds=$ROUNDS}"
log=$OUT/guest-$mode.log
for f in "$OUT/Image" "$OUT/initramfs.cpio.gz"; do
	[ -f "$f" ] || die "missing $f" "run: make $mode"
done

step "booting $ARCH guest (${QEMU[0]}, mode $mode, timeout ${timeout}s)"
info "${QEMU_GUEST[*]} -kernel ${OUT#"$TOP"/}/Image -initrd ${OUT#"$TOP"/}/initramfs.cpio.gz"
# loglevel=5 keeps boot chatter off the console but shows warnings and
# errors (WARN, BUG and Oops print at level 4 and above).
set +e
timeout --foreground "$timeout" "${QEMU_GUEST[@]}" \
	-kernel "$OUT/Image" -initrd "$OUT/initramfs.cpio.gz" \
	-append "console=$CONSOLE panic=-1 loglevel=5 asyncn_mode=$mode asyncn_pace=$pace $random_runs${FLAVOUR:+ asyncn_flavour=$FLAVOUR}" \
	</dev/null 2>&1 | tr -d '\r' | tee "$log"
status=${PIPESTATUS[0]}
set -e

problems=()
[ "$status" = 124 ] && problems+=("the guest did not finish within ${timeout}s (GUEST_TIMEOUT)")
# BUG: covers KASAN and KFENCE reports, WARNING: lockdep's; kmemleak's
# come from the guest's scan (see guest-init).
if grep -nE 'Internal error: Oops|BUG: |WARNING: |Kernel panic|cut here|Unable to handle kernel|Call trace:|unreferenced object' "$log" >"$log.kernel"; then
	problems+=("the kernel reported a problem:" "$(head -n 20 "$log.kernel")")
fi
if ! grep -q '^ASYNCN-GUEST-RESULT: PASS' "$log"; then
	result=$(grep -m1 '^ASYNCN-GUEST-RESULT:' "$log" || echo "no ASYNCN-GUEST-RESULT marker (the guest never finished)")
	problems+=("$result")
fi
if ((${#problems[@]})); then
	die "guest $ARCH/$mode failed (console: ${log#"$TOP"/})" "${problems[@]}"
fi
summary=$(grep -m1 -E '^# [0-9]+ passed, [0-9]+ failed' "$log" || true)
info "guest $ARCH/$mode passed ${summary:+(${summary#\# })}"
