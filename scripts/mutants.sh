#!/usr/bin/env bash
# make mutants: deliberate driver bugs that the guest suite must catch.
#
# Each tests/mutants/NN-name.patch is a bug a real driver could have: a
# patch to driver/ (or to init/, whose mdev configuration the guest uses),
# with paths from the top of the repository, after a header:
#   Mutant: what the bug does
#   Rule: the contract rule it breaks (docs/device.md; scripts/rules.py)
#   Kernel: debug        (optional: needs the debug kernel's checkers)
# For each, copies of driver/ and init/ are patched, the module is built
# against the arm64/6.12 kernel and booted in the arm64 "virt" guest, which
# runs what `make test` runs there: every case, then stress and fuzz
# (MUTANT_STRESS_SECONDS, MUTANT_FUZZ_SECONDS; 20 and 15). A mutant is
# killed when the guest run fails; the table says by which check and after
# how long. The unpatched driver runs first, the same way, and must pass: a
# check that fails without a bug kills nothing.
#
# The "Kernel: debug" mutants run afterwards, in a second pass of this
# script (MUTANT_KERNEL=debug), on the arm64/6.12 debug kernel (lockdep,
# KASAN, fault injection; built first if need be), whose guest also runs
# the stress under MUTANT_FAULTS percent fault injection (2).
#
# MUTANTS=01,07 runs only the mutants whose names start with those prefixes.
# Exit status: 0 when every mutant was killed; 1 otherwise (a survivor is a
# missing check), or when the unpatched driver failed or a patch no longer
# applies or builds.
. "$(dirname "$0")/lib.sh"
flavour=${MUTANT_KERNEL:-}
case "$flavour" in "" | debug) ;; *) die "unknown MUTANT_KERNEL=$flavour" "supported: debug, or unset" ;; esac
export ARCH=arm64 KERNEL=6.12 FLAVOUR=$flavour BOARD= INIT=busybox
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
faults=
[ "$flavour" = debug ] && faults=${MUTANT_FAULTS:-2}
work=$BUILD/mutants${flavour:+-$flavour}
mkdir -p "$work"
table=$work/table.md

# header PATCH FIELD: the value of a header line ("Rule: R5" -> R5).
header() {
	sed -n "/^--- /q; s/^$2: //p" "$1" | head -n1
}
for patch in "$TOP"/tests/mutants/*.patch; do
	case "$(header "$patch" Kernel)" in "" | debug) ;; *) die "$patch: unknown 'Kernel:' value" "use 'Kernel: debug' or none" ;; esac
done

# selected PATCH: whether MUTANTS (prefixes, comma-separated) asks for it.
selected() {
	local name prefix
	name=$(basename "$1" .patch)
	[ -z "${MUTANTS:-}" ] && return 0
	for prefix in ${MUTANTS//,/ }; do
		case "$name" in "$prefix"*) return 0 ;; esac
	done
	return 1
}
patches=()
for patch in "$TOP"/tests/mutants/*.patch; do
	selected "$patch" && [ "$(header "$patch" Kernel)" = "$flavour" ] && patches+=("$patch")
done
# The debug pass's mutants, when this is the first pass.
debug_patches=()
if [ -z "$flavour" ]; then
	for patch in "$TOP"/tests/mutants/*.patch; do
		[ "$(header "$patch" Kernel)" = debug ] && selected "$patch" && debug_patches+=("$patch")
	done
fi
((${#patches[@]} + ${#debug_patches[@]})) ||
	die "no mutant matches MUTANTS=${MUTANTS:-}" "the mutants: $(ls "$TOP/tests/mutants")"

# debug_pass: the "Kernel: debug" mutants, by this script on that kernel.
debug_pass() {
	((${#debug_patches[@]})) || return 0
	step "the ${#debug_patches[@]} mutant(s) that need the debug kernel"
	make --no-print-directory -C "$TOP" module app FLAVOUR=debug && MUTANT_KERNEL=debug "$0"
}
if ((${#patches[@]} == 0)); then
	debug_pass
	exit
fi

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
	cp -a "$TOP/init" "$dir/init"
	# No fuzz: a hunk that no longer matches exactly is an error, not a
	# bug planted somewhere else.
	if [ -n "$patch" ] && ! patch -s -N --fuzz=0 -d "$dir" -p1 <"$patch" >"$dir/patch.log" 2>&1; then
		VERDICT="ERROR: the patch does not apply ($(head -n1 "$dir/patch.log"))"
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
	ASYNCN_OUT=$dir ASYNCN_INIT_DIR=$dir/init "$TOP/scripts/build-initramfs.sh" >"$dir/initramfs.log" 2>&1 ||
		die "assembling the initramfs of $name failed" "$(cat "$dir/initramfs.log")"
	local status=0
	ASYNCN_OUT=$dir STRESS_SECONDS=$stress FUZZ_SECONDS=$fuzz SEED= PROCS= FAULTS=$faults \
		GUEST_TIMEOUT=$((420 + 2 * (stress + fuzz) ${faults:++ 4 * stress})) \
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

step "the unpatched driver, as each mutant will run (${flavour:-default} kernel: cases, stress ${stress}s${faults:+ twice, then under ${faults}% fault injection}, fuzz ${fuzz}s)"
run_driver unpatched
[ -z "$VERDICT" ] || die "the unpatched driver failed: $VERDICT" \
	"console: ${work#"$TOP"/}/unpatched/guest-test.log; a check that fails without a bug kills nothing"
info "passed in ${ELAPSED} s"

survivors=0 errors=0
{
	echo "| mutant | rule | bug | killed by | time |"
	echo "|---|---|---|---|---|"
} >"$table"
for patch in "${patches[@]}"; do
	name=$(basename "$patch" .patch)
	bug=$(header "$patch" Mutant)
	rule=$(header "$patch" Rule)
	step "mutant $name: $bug"
	run_driver "$name" "$patch"
	case "$VERDICT" in
	"") verdict="**SURVIVED**" survivors=$((survivors + 1)) ;;
	ERROR:*) verdict=$VERDICT errors=$((errors + 1)) ;;
	*) verdict=$VERDICT ;;
	esac
	# Whether the killing case names the mutant's rule (a kernel report or
	# the stress and fuzz runs name none here).
	case_name=
	case "$verdict" in
	"not ok "*) case_name=$(sed -E 's/^not ok [0-9]+ - ([a-z0-9-]+):.*/\1/' <<<"$verdict") ;;
	"Bail out! case "*) case_name=$(sed -E 's/^Bail out! case ([a-z0-9-]+) .*/\1/' <<<"$verdict") ;;
	esac
	case_rules=
	[ -n "$case_name" ] && case_rules=$(python3 "$TOP/scripts/rules.py" --rules-of "$case_name")
	if [ -n "$case_rules" ] && [ -n "$rule" ] && ! grep -qw "$rule" <<<"$case_rules"; then
		verdict="$verdict (a case of $case_rules, not $rule)"
	fi
	info "$verdict${ELAPSED:+ (${ELAPSED} s)}"
	echo "| $name | $rule | $bug | ${verdict//|/\\|} | ${ELAPSED:+${ELAPSED} s} |" >>"$table"
done

step "mutants: ${#patches[@]} run, $((${#patches[@]} - survivors - errors)) killed, $survivors survived, $errors errors"
cat "$table"
info "table: ${table#"$TOP"/}; logs: ${work#"$TOP"/}/<mutant>/"
status=0
[ "$survivors" = 0 ] && [ "$errors" = 0 ] || status=1
debug_pass || status=1
exit $status
