#!/usr/bin/env bash
# make mutants: deliberate driver bugs that the guest suite must catch.
#
# Each tests/mutants/NN-name.patch is a bug a real driver could have. For
# each, a copy of driver/ is patched, built against the arm64/6.12 kernel and
# booted in the arm64 "virt" guest, which runs what `make test` runs there:
# every case, then stress and fuzz (MUTANT_STRESS_SECONDS, MUTANT_FUZZ_SECONDS;
# 20 and 15). A mutant is killed when the guest run fails; the table says by
# which check and after how long. The unpatched driver runs first, the same
# way, and must pass: a check that fails without a bug kills nothing.
#
# MUTANTS=01,07 runs only the mutants whose names start with those prefixes.
# Exit status: 0 when every mutant was killed; 1 otherwise (a survivor is a
# missing check), or when the unpatched driver failed or a patch no longer
# applies or builds.
. "$(dirname "$0")/lib.sh"
ARCH=arm64 KERNEL=6.12 FLAVOUR= BOARD= INIT=busybox
unset ASYNCN_OUT
arch_setup
kernel_setup
kernel_paths
require_kernel_build
require_rust_metadata
base=$OUT
for f in "$base/Image" "$base/asyncn-test"; do
	[ -e "$f" ] || die "missing $f" "run: make mutants (it builds the kernel and the app first)"
done

stress=${MUTANT_STRESS_SECONDS:-20}
fuzz=${MUTANT_FUZZ_SECONDS:-15}
work=$BUILD/mutants
mkdir -p "$work"
table=$work/table.md

patches=()
for patch in "$TOP"/tests/mutants/*.patch; do
	name=$(basename "$patch" .patch)
	if [ -n "${MUTANTS:-}" ]; then
		wanted=
		for prefix in ${MUTANTS//,/ }; do
			case "$name" in "$prefix"*) wanted=1 ;; esac
		done
		[ -n "$wanted" ] || continue
	fi
	patches+=("$patch")
done
((${#patches[@]})) || die "no mutant matches MUTANTS=${MUTANTS:-}" "the mutants: $(ls "$TOP/tests/mutants")"

# killed_by LOG: the first thing that failed in a guest console log, in
# the order it happened: a kernel report, a failed TAP check, a watchdog's
# "Bail out!" (which names the case), else the guest's result line.
killed_by() {
	local log=$1 first
	# -a: a mutant's stale bytes can make the console log look binary.
	first=$(grep -a -n -m1 -E 'Internal error: Oops|BUG: |WARNING: |Kernel panic|Unable to handle kernel|blocked for more than|^ *not ok |^Bail out!' "$log" || true)
	if [ -n "$first" ]; then
		local line=${first#*:}
		case "$line" in
		*"not ok "*) echo "${line#"${line%%not ok*}"}" ;;
		"Bail out!"*) echo "$line" ;;
		*) echo "kernel: ${line#*] }" ;;
		esac
	elif line=$(grep -a -m1 '^ASYNCN-GUEST-RESULT: FAIL' "$log"); then
		echo "${line#ASYNCN-GUEST-RESULT: }"
	elif ! grep -a -q '^ASYNCN-GUEST-RESULT: PASS' "$log"; then
		echo "guest timeout (no result)"
	fi
}

# run_driver NAME [PATCH]: builds the driver (patched when PATCH is given)
# and runs the guest; sets VERDICT (killed_by's line, empty on a pass) and
# ELAPSED.
run_driver() {
	local name=$1 patch=${2:-} dir=$work/$1 start=$SECONDS
	VERDICT= ELAPSED=
	rm -rf "$dir" && mkdir -p "$dir"
	cp -a "$TOP/driver" "$dir/driver"
	# No fuzz: a hunk that no longer matches exactly is an error, not a
	# bug planted somewhere else.
	if [ -n "$patch" ] && ! patch -s -N --fuzz=0 -d "$dir/driver" -p1 <"$patch" >"$dir/patch.log" 2>&1; then
		VERDICT="ERROR: the patch does not apply to driver/ ($(head -n1 "$dir/patch.log"))"
		return
	fi
	# A mutant may leave code unused (a warning); the unpatched driver
	# builds warning-free, as everywhere.
	if ! (OUT=$dir && ASYNCN_MUTANT_WARNINGS=${patch:+1} build_module "$dir/driver" driver &&
		cp "$MODULE_WORK/asyncn.ko" "$dir/asyncn.ko") >"$dir/build.log" 2>&1; then
		VERDICT="ERROR: does not build (${dir#"$TOP"/}/build.log)"
		return
	fi
	ln -sf "$base/Image" "$dir/Image"
	ln -sf "$base/asyncn-test" "$dir/asyncn-test"
	ASYNCN_OUT=$dir "$TOP/scripts/build-initramfs.sh" >"$dir/initramfs.log" 2>&1 ||
		die "assembling the initramfs of $name failed" "$(cat "$dir/initramfs.log")"
	local status=0
	ASYNCN_OUT=$dir STRESS_SECONDS=$stress FUZZ_SECONDS=$fuzz SEED= PROCS= FAULTS= \
		GUEST_TIMEOUT=$((420 + 2 * (stress + fuzz))) \
		"$TOP/scripts/run-guest.sh" test >"$dir/run.log" 2>&1 || status=$?
	if [ ! -s "$dir/guest-test.log" ]; then
		VERDICT="ERROR: the guest did not start (${dir#"$TOP"/}/run.log)"
		return
	fi
	VERDICT=$(killed_by "$dir/guest-test.log")
	# run-guest.sh judges more than the console's first failure (a timeout
	# after the result, kernel reports killed_by does not name): its
	# verdict stands when killed_by found nothing.
	if [ -z "$VERDICT" ] && [ "$status" != 0 ]; then
		VERDICT="guest run failed: $(grep -a -A1 'failed (console' "$dir/run.log" | tail -n1 | sed 's/^ *//')"
	fi
	ELAPSED=$((SECONDS - start))
}

step "the unpatched driver, as each mutant will run (cases, stress ${stress}s, fuzz ${fuzz}s)"
run_driver unpatched
[ -z "$VERDICT" ] || die "the unpatched driver failed: $VERDICT" \
	"console: ${work#"$TOP"/}/unpatched/guest-test.log; a check that fails without a bug kills nothing"
info "passed in ${ELAPSED} s"

survivors=0 errors=0
{
	echo "| mutant | bug | killed by | time |"
	echo "|---|---|---|---|"
} >"$table"
for patch in "${patches[@]}"; do
	name=$(basename "$patch" .patch)
	bug=$(sed -n '1s/^Mutant: //p' "$patch")
	step "mutant $name: $bug"
	run_driver "$name" "$patch"
	case "$VERDICT" in
	"") verdict="**SURVIVED**" survivors=$((survivors + 1)) ;;
	ERROR:*) verdict=$VERDICT errors=$((errors + 1)) ;;
	*) verdict=$VERDICT ;;
	esac
	info "$verdict${ELAPSED:+ (${ELAPSED} s)}"
	echo "| $name | $bug | ${verdict//|/\\|} | ${ELAPSED:+${ELAPSED} s} |" >>"$table"
done

step "mutants: ${#patches[@]} run, $((${#patches[@]} - survivors - errors)) killed, $survivors survived, $errors errors"
cat "$table"
info "table: ${table#"$TOP"/}; logs: ${work#"$TOP"/}/<mutant>/"
[ "$survivors" = 0 ] && [ "$errors" = 0 ]
