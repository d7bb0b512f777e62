#!/usr/bin/env bash
# make test: every check of the project, then a summary. Exit status is
# non-zero when any step failed. Steps that need a failed step are skipped.
#
# Without ARCH, KERNEL, BOARD or INIT, the guest part runs the CI matrix:
# arm64/6.12 on "virt", the same kernel on the Raspberry Pi 3 card
# (BOARD=raspi3b: genimage, bmaptool, QEMU raspi3b), arm64/7.3, arm/7.3 and
# the debug flavour of arm64/6.12 (lockdep, KASAN, KFENCE, kmemleak). With
# any of them set, it runs that one target (INIT=systemd: the Debian card);
# FLAVOUR=debug alone runs the debug target.
#
# Every guest runs the cases, then a short stress and fuzz run; the debug
# guest a longer one, and the stress run a second time under fault injection
# (STRESS_SECONDS/FUZZ_SECONDS override; FAULTS: its percentage; SEED
# repeats a run).
requested_arch=${ARCH:-}
requested_kernel=${KERNEL:-}
requested_board=${BOARD:-}
requested_init=${INIT:-}
. "$(dirname "$0")/lib.sh"
# Failures are counted, not fatal: every step runs and the summary says.
set +e

requested_flavour=${FLAVOUR:-}
# Targets are arch/kernel/flavour/board/init; empty fields take the defaults.
if [ -z "$requested_arch$requested_kernel$requested_board$requested_init" ] && [ -n "$requested_flavour" ]; then
	targets=("arm64/6.12/$requested_flavour//")
elif [ -z "$requested_arch$requested_kernel$requested_board$requested_init" ]; then
	targets=(arm64/6.12/// arm64/6.12//raspi3b/ arm64/7.3/// arm/7.3/// arm64/6.12/debug//)
else
	targets=("${requested_arch:-arm64}/$requested_kernel/$requested_flavour/$requested_board/$requested_init")
fi

results=()
failed=0
passed=0
skipped=0

# run_step NAME COMMAND... : runs the command, records PASS/FAIL.
run_step() {
	local name=$1
	shift
	local start=$SECONDS
	if "$@"; then
		results+=("PASS  $name ($((SECONDS - start)) s)")
		passed=$((passed + 1))
		return 0
	fi
	results+=("FAIL  $name")
	failed=$((failed + 1))
	return 1
}

skip_step() {
	results+=("SKIP  $1 (needs an earlier step)")
	skipped=$((skipped + 1))
}

app() { (cd "$TOP/app" && "$@"); }

# The host checks need some of the prerequisites too (python3-venv, rustfmt).
IFS=/ read -r first_arch first_kernel _ <<<"${targets[0]}"
if ! run_step "prerequisites" env ARCH="$first_arch" KERNEL="$first_kernel" FLAVOUR= "$TOP/scripts/install-deps.sh"; then
	printf '    %s\n' "${results[@]}"
	echo "test: 0 passed, 1 failed"
	exit 1
fi

step "checking the app, the driver's formatting, the scripts and the packaging on the host"
run_step "app: cargo fmt --check" app cargo fmt --check
# Both builds of the app: with the `tokio` feature (what ships) and without.
run_step "app: cargo clippy (--features tokio, and without)" \
	eval 'app cargo clippy --quiet --locked --all-targets --features tokio -- -D warnings &&
		app cargo clippy --quiet --locked --all-targets -- -D warnings'
run_step "app: cargo test" app cargo test --quiet --locked --features tokio
run_step "app: module graph (no cycle; only the crate root uses the case registry)" \
	python3 "$TOP/scripts/app-modules.py"
run_step "contract: every rule of docs/device.md has a check and a mutant (scripts/rules.py)" \
	eval 'python3 "$TOP/scripts/rules.py" --self-test && python3 "$TOP/scripts/rules.py"'
run_step "docs: markdown lint, links and anchors, headings, paths, make targets, shell blocks, README length" \
	"$TOP/scripts/docs-check.sh"
run_step "driver: rustfmt --check" rustfmt --check --config-path "$TOP/driver/.rustfmt.toml" "$TOP/driver/asyncn.rs"
run_step "driver: unsafe code per file (scripts/unsafe-count.py)" \
	eval 'python3 "$TOP/scripts/unsafe-count.py" --self-test && python3 "$TOP/scripts/unsafe-count.py"'
# syntax_check SHELL FILE...: each file parses (sh -n takes one file).
syntax_check() {
	local shell=$1 file
	shift
	for file in "$@"; do
		"$shell" -n "$file" || { echo "$file: syntax error ($shell -n)" >&2 && return 1; }
	done
}
posix_scripts=(init/asyncn init/install.sh app/run-ptest scripts/guest-init scripts/systemd-check scripts/card/rcS
	buildroot-external/board/asyncn/raspberrypi/post-image.sh)
run_step "scripts: sh -n of the POSIX scripts (${#posix_scripts[@]}), bash -n of scripts/*.sh" \
	eval 'syntax_check sh "${posix_scripts[@]/#/$TOP/}" && syntax_check bash "$TOP"/scripts/*.sh'

# One target: ARCH/KERNEL through the whole loop, ending in the guest.
test_target() {
	local arch kernel flavour board init
	IFS=/ read -r arch kernel flavour board init <<<"$1"
	local t="$arch/${kernel:-default}${flavour:+ $flavour}${board:+ on $board}${init:+ with $init}"
	local stress=${STRESS_SECONDS:-10} fuzz=${FUZZ_SECONDS:-10} faults= under=
	if [ "$flavour" = debug ]; then
		# The debug kernel has fault injection: a second stress run under it.
		stress=${STRESS_SECONDS:-40} fuzz=${FUZZ_SECONDS:-20} faults=${FAULTS:-2}
		under=" (twice: plain, then under ${faults}% fault injection)"
	fi
	local guest="guest $t: asyncn-test all, stress ${stress}s$under, fuzz ${fuzz}s, rmmod"
	export ARCH=$arch KERNEL=$kernel FLAVOUR=$flavour BOARD=$board INIT=$init
	step "target $t"
	if ! run_step "$t: prerequisites" "$TOP/scripts/install-deps.sh"; then
		skip_step "$guest"
		return
	fi
	local on_virt=
	[ "${board:-virt}" = virt ] && [ "${init:-busybox}" = busybox ] && on_virt=1
	# The kernel, module and app of a card are those of arm64 "virt": their
	# checks ran there.
	[ -n "$on_virt" ] &&
		run_step "$t: guest devices (QMP: no device the guest does not use)" "$TOP/scripts/check-guest-devices.sh"
	if ! run_step "$t: kernel (Rust enabled)" "$TOP/scripts/build-kernel.sh"; then
		skip_step "$guest"
		return
	fi
	[ -n "$on_virt" ] && run_step "$t: driver clippy (CLIPPY=1)" env CLIPPY=1 "$TOP/scripts/build-module.sh"
	# The benchmark's C baseline must keep building (make bench).
	[ -n "$on_virt" ] && [ -z "$flavour" ] && run_step "$t: C baseline of make bench" "$TOP/scripts/build-bench-module.sh"
	local image=initramfs script=build-initramfs.sh
	[ -z "$on_virt" ] && image="SD card (genimage, bmaptool create)" script=build-card.sh
	if run_step "$t: driver build" "$TOP/scripts/build-module.sh" &&
		run_step "$t: app static build (cargo leaves it unstripped, as OE-core's QA needs)" "$TOP/scripts/build-app.sh" &&
		run_step "$t: $image" "$TOP/scripts/$script"; then
		run_step "$guest" env STRESS_SECONDS="$stress" FUZZ_SECONDS="$fuzz" FAULTS="$faults" "$TOP/scripts/run-guest.sh" test
	else
		skip_step "$guest"
	fi
}

for target in "${targets[@]}"; do
	test_target "$target"
done

# The packaging: shared files, licence, oelint-adv, and
# every flash command of the docs run on the Raspberry Pi card, which the
# default matrix has just built and booted (a single other target skips
# that part rather than build an arm64 kernel for it).
step "packaging"
export ARCH= KERNEL= FLAVOUR= BOARD= INIT=
if [[ " ${targets[*]} " == *" arm64/6.12//raspi3b/ "* ]] || [ "$requested_board" = raspi3b ]; then
	run_step "packaging: shared files, licence, oelint-adv, the docs' bmaptool commands on the card" \
		"$TOP/scripts/packaging-check.sh"
else
	run_step "packaging: shared files, licence, oelint-adv (flash commands: with the card targets)" \
		env PACKAGING_FLASH=0 "$TOP/scripts/packaging-check.sh"
fi

printf '\n\033[1m==> asyncn test summary\033[0m\n'
printf '    %s\n' "${results[@]}"
for target in "${targets[@]}"; do
	log=$(IFS=/ read -r ARCH KERNEL FLAVOUR BOARD INIT <<<"$target" && INIT=${INIT:-busybox} &&
		arch_setup && if [ "$BOARD" = virt ]; then echo "$OUT/guest-test.log"; else echo "$CARD_DIR/guest-test.log"; fi)
	# The cases, stress and fuzz each print a "# N passed, M failed" line.
	counts=$(grep -h -E '^# [0-9]+ passed, [0-9]+ failed' "$log" 2>/dev/null |
		awk '{ passed += $2; failed += $4 } END { if (NR) printf "%d passed, %d failed", passed, failed }')
	[ -n "$counts" ] && printf '    in-guest checks %s: %s\n' "$(sed 's|/*$||; s|//*|/|g' <<<"$target")" "$counts"
done
summary="$passed passed, $failed failed"
((skipped)) && summary+=", $skipped skipped"
echo "test: $summary"
((failed == 0 && skipped == 0))
