#!/usr/bin/env bash
# Boot build/<arch>/{Image,initramfs.cpio.gz} in QEMU and judge the run;
# on BOARD=raspi3b, flash the card (build-card.sh) and boot the Pi from it.
#
#   run-guest.sh demo|test|stress
#
# STRESS_SECONDS, FUZZ_SECONDS, SEED, PROCS: the random runs in the guest
# (see asyncn-test stress --help); GUEST_TIMEOUT grows with them. FAULTS
# (percent, debug kernels): a second stress run under fault injection.
# ROUNDS: rounds of the benchmark; BENCH_ARGS: more asyncn-test bench
# options (e.g. "--fixed-order --warmup 0").
#
# The console is streamed to the terminal and saved to
# build/<arch>/guest-<mode>.log (the card's: in its directory). The run fails on a timeout, a kernel
# Oops/BUG/WARNING/panic or hung task, or a missing "ASYNCN-GUEST-RESULT: PASS".
#
# A hang is never silent. asyncn-test in the guest ends itself, with a
# report of where its processes are, by asyncn_deadline (seconds of guest
# uptime, DEADLINE_MARGIN before the host's timeout); a guest still running
# SYSRQ_MARGIN seconds before the timeout is asked over the console for
# its blocked tasks, every CPU's and every task's stack (SysRq w, l, t),
# then killed at the timeout.
. "$(dirname "$0")/lib.sh"
arch_setup

mode=${1:-test}
stress=${STRESS_SECONDS:-0}
fuzz=${FUZZ_SECONDS:-0}
timeout=${GUEST_TIMEOUT:-$((300 + 2 * (stress + fuzz) ${FAULTS:++ 2 * stress}))}
pace=${PACE:-0}
# The guest's deadline leaves asyncn-test's watchdog its report (10 s at
# most) and the program's end (5 s), then guest-init's own report (30 s
# after the deadline), before the SysRq.
DEADLINE_MARGIN=60
SYSRQ_MARGIN=15
# A short GUEST_TIMEOUT keeps half of it for the guest's own deadline.
deadline=$((timeout - DEADLINE_MARGIN))
((deadline >= timeout / 2)) || deadline=$((timeout / 2))
random_runs="asyncn_stress=$stress asyncn_fuzz=$fuzz${SEED:+ asyncn_seed=$SEED}${PROCS:+ asyncn_procs=$PROCS}${FAULTS:+ asyncn_faults=$FAULTS}${ROUNDS:+ asyncn_rounds=$ROUNDS}${BENCH_ARGS:+ asyncn_bench_args=${BENCH_ARGS// /,}}"
# loglevel=5 keeps boot chatter off the console but shows warnings and
# errors (WARN, BUG and Oops print at level 4 and above).
# sysrq_always_enabled: the host's SysRq, whatever the kernel's default
# mask (restrictive, as on a real board) or a sysctl on the card says.
loop_args="panic=-1 loglevel=5 sysrq_always_enabled asyncn_mode=$mode asyncn_pace=$pace asyncn_deadline=$deadline $random_runs${FLAVOUR:+ asyncn_flavour=$FLAVOUR}"
if [ "$BOARD" = virt ]; then
	log=$OUT/guest-$mode.log
	for f in "$OUT/Image" "$OUT/initramfs.cpio.gz"; do
		[ -f "$f" ] || die "missing $f" "run: make $mode"
	done
	boot=(-kernel "$OUT/Image" -initrd "$OUT/initramfs.cpio.gz" -append "console=$CONSOLE $loop_args")
	shown="-kernel ${OUT#"$TOP"/}/Image -initrd ${OUT#"$TOP"/}/initramfs.cpio.gz"
else
	# The user's path: flash the card image onto a blank card (here a file)
	# with bmaptool, as the READMEs say, then boot the Pi from that card.
	log=$CARD_DIR/guest-$mode.log
	card=$CARD_DIR/sdcard.img.bz2
	for f in "$card" "$CARD_DIR/sdcard.img.bmap"; do
		[ -f "$f" ] || die "missing $f" "run: make card BOARD=$BOARD INIT=$INIT"
	done
	sd=$CARD_DIR/sd-card.img
	step "flashing ${card#"$TOP"/} onto a blank card (${sd#"$TOP"/})"
	: >"$sd"
	start=$(date +%s.%N)
	info "bmaptool copy ${card#"$TOP"/} ${sd#"$TOP"/}"
	bmaptool copy "$card" "$sd" 2>&1 | sed 's/^/    /' >&2
	info "flashed in $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s"
	# QEMU does not run the Pi's firmware: it is handed what the firmware
	# would load from the card's boot partition (FAT, partition 1).
	boot_dir=$CARD_DIR/boot
	rm -rf "$boot_dir" && mkdir -p "$boot_dir"
	offset=$(python3 -c 'import struct, sys
mbr = open(sys.argv[1], "rb").read(512)
assert mbr[510:512] == b"\x55\xaa", "no MBR on the card"
print(struct.unpack_from("<I", mbr, 446 + 8)[0] * 512)' "$sd")
	# mtools would refuse a FAT whose geometry is not a floppy's or disk's.
	export MTOOLS_SKIP_CHECK=1
	boot_file() { mcopy -n -i "$sd@@$offset" "::$1" "$boot_dir/$1" || die "the card's boot partition has no $1"; }
	boot_file config.txt
	kernel=$(sed -n 's/^kernel=//p' "$boot_dir/config.txt")
	[ -n "$kernel" ] || die "the card's config.txt names no kernel="
	for f in "$kernel" "$CARD_DTB" cmdline.txt; do boot_file "$f"; done
	info "from the card's boot partition (at byte $offset): config.txt, $kernel, $CARD_DTB, cmdline.txt"
	boot=(-kernel "$boot_dir/$kernel" -dtb "$boot_dir/$CARD_DTB" -drive "if=sd,format=raw,file=$sd"
		-append "$(cat "$boot_dir/cmdline.txt") $loop_args")
	shown="-kernel <card>/$kernel -dtb <card>/$CARD_DTB -drive if=sd,format=raw,file=${sd#"$TOP"/} -append \"<card>/cmdline.txt ...\""
fi

step "booting $ARCH guest on $BOARD (${QEMU_GUEST[0]}, mode $mode, timeout ${timeout}s)"
info "${QEMU_GUEST[*]} $shown"
console_input_open
# A guest still running SYSRQ_MARGIN seconds before the timeout: a break
# on the serial line (Ctrl-A b to the multiplexer), then a SysRq key.
sysrq_at=$((timeout - SYSRQ_MARGIN))
(
	trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
	sleep "$sysrq_at" &
	sleeper=$!
	wait "$sleeper"
	kill -0 $$ 2>/dev/null || exit 0
	info "the guest still runs after ${sysrq_at}s: SysRq 8 (console level), w (blocked tasks), l (CPUs), t (all tasks)"
	for key in 8 w l t; do
		to_console "b$key"
		sleep 2
	done
) &
sysrq_watch=$!
# Interrupted (Ctrl-C, a caller's SIGTERM): no helper outlives the script.
trap 'kill "$sysrq_watch" 2>/dev/null; console_input_close' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
set +e
# tr line-buffered: the log and the terminal have each line as the guest
# prints it, a hang's last line included.
timeout --foreground "$timeout" "${QEMU_GUEST[@]}" "${boot[@]}" \
	<&"$CONSOLE_FD" 2>&1 | stdbuf -oL tr -d '\r' | tee "$log"
status=${PIPESTATUS[0]}
kill "$sysrq_watch" 2>/dev/null
wait "$sysrq_watch" 2>/dev/null
console_input_close
trap - EXIT INT TERM
set -e

problems=()
[ "$status" = 124 ] && problems+=("the guest did not finish within ${timeout}s (GUEST_TIMEOUT); the log ends with its blocked tasks and stacks (from 'sysrq:')")
# A kernel report fails the run (checks R30). BUG: covers KASAN and KFENCE reports, WARNING: lockdep's; kmemleak's
# come from the guest's scan (see guest-init); "blocked for more than" is
# the hung-task detector's. Up to the host's SysRq (its first key, 8,
# changes the log level): its dumps come from a run that has failed
# already, and would hide the first report.
if sed -n '/sysrq: Changing Loglevel/q;p' "$log" |
	grep -nE 'Internal error: Oops|BUG: |WARNING: |Kernel panic|cut here|Unable to handle kernel|Call trace:|unreferenced object|blocked for more than' >"$log.kernel"; then
	problems+=("the kernel reported a problem:" "$(head -n 20 "$log.kernel")")
fi
if ! grep -q '^ASYNCN-GUEST-RESULT: PASS' "$log"; then
	result=$(grep -m1 '^ASYNCN-GUEST-RESULT:' "$log" || echo "no ASYNCN-GUEST-RESULT marker (the guest never finished)")
	problems+=("$result")
fi
# The card booted what it should have: the Pi, its root from the card.
if [ "$BOARD" = raspi3b ]; then
	grep -q '^guest: board: Raspberry Pi 3 Model B' "$log" || problems+=("the guest's device tree is not the Raspberry Pi 3 Model B's")
	grep -q '^guest: root: /dev/mmcblk0p2 ext4' "$log" || problems+=("the root file system is not the card's mmcblk0p2")
	# The card's cases ran through app/run-ptest, as ptest-runner runs it.
	if [ "$mode" = test ] && [ "$INIT" = busybox ]; then
		grep -qE '^guest: ptest: [1-9][0-9]* PASS, [0-9]+ SKIP, 0 FAIL, exit status 0$' "$log" ||
			problems+=("the card's run-ptest did not report its PASS lines and no FAIL")
	fi
fi
if ((${#problems[@]})); then
	die "guest $ARCH/$mode failed (console: ${log#"$TOP"/})" "${problems[@]}"
fi
summary=$(grep -m1 -E '^# [0-9]+ passed, [0-9]+ failed' "$log" || true)
info "guest $ARCH/$mode passed ${summary:+(${summary#\# })}"
