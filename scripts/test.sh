#!/usr/bin/env bash
# make test: every check of the project, then a summary. Exit status is
# non-zero when any step failed. Steps that need a failed step are skipped.
#
# Without ARCH or KERNEL, the guest part runs the CI matrix: arm64/6.12,
# arm64/7.3 and arm/7.3. With either set, it runs that one target.
requested_arch=${ARCH:-}
requested_kernel=${KERNEL:-}
. "$(dirname "$0")/lib.sh"
# Failures are counted, not fatal: every step runs and the summary says.
set +e

if [ -z "$requested_arch$requested_kernel" ] && [ -n "${FLAVOUR:-}" ]; then
	targets=(arm64/6.12)
elif [ -z "$requested_arch$requested_kernel" ]; then
	targets=(arm64/6.12 arm64/7.3 arm/7.3)
else
	targets=("${requested_arch:-arm64}/$requested_kernel")
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
first=${targets[0]}
if ! run_step "prerequisites" env ARCH="${first%/*}" KERNEL="${first#*/}" "$TOP/scripts/install-deps.sh"; then
	printf '    %s\n' "${results[@]}"
	echo "test: 0 passed, 1 failed"
	exit 1
fi

step "checking the app, the driver's formatting, the scripts and the packaging on the host"
run_step "app: cargo fmt --check" app cargo fmt --check
run_step "app: cargo clippy" app cargo clippy --quiet --locked --all-targets -- -D warnings
run_step "app: cargo test" app cargo test --quiet --locked
run_step "driver: rustfmt --check" rustfmt --check --config-path "$TOP/driver/.rustfmt.toml" "$TOP/driver/asyncn.rs"
run_step "scripts: sh -n init/asyncn scripts/guest-init" sh -n "$TOP/init/asyncn" "$TOP/scripts/guest-init"
run_step "meta-asyncn: oelint-adv, crates.inc up to date" "$TOP/scripts/lint-layer.sh"
run_step "packaging: one copy of fragment, init script, rules" "$TOP/scripts/check-packaging.sh"

# One target: ARCH/KERNEL through the whole loop, ending in the guest.
test_target() {
	local arch=${1%/*} kernel=${1#*/}
	local t="$arch/${kernel:-default}"
	local guest="guest $t: asyncn-test all + rmmod"
	export ARCH=$arch KERNEL=$kernel
	step "target $t"
	if ! run_step "$t: prerequisites" "$TOP/scripts/install-deps.sh"; then
		skip_step "$guest"
		return
	fi
	if ! run_step "$t: kernel (Rust enabled)" "$TOP/scripts/build-kernel.sh"; then
		skip_step "$guest"
		return
	fi
	run_step "$t: driver clippy (CLIPPY=1)" env CLIPPY=1 "$TOP/scripts/build-module.sh"
	if run_step "$t: driver build" "$TOP/scripts/build-module.sh" &&
		run_step "$t: app static build" "$TOP/scripts/build-app.sh" &&
		run_step "$t: initramfs" "$TOP/scripts/build-initramfs.sh"; then
		run_step "$guest" "$TOP/scripts/run-guest.sh" test
	else
		skip_step "$guest"
	fi
}

for target in "${targets[@]}"; do
	test_target "$target"
done

printf '\n\033[1m==> asyncn test summary\033[0m\n'
printf '    %s\n' "${results[@]}"
for target in "${targets[@]}"; do
	out=$(ARCH=${target%/*} KERNEL=${target#*/} && arch_setup && echo "$OUT")
	counts=$(grep -h -m1 -E '^# [0-9]+ passed, [0-9]+ failed' "$out/guest-test.log" 2>/dev/null)
	[ -n "$counts" ] && printf '    in-guest checks %s: %s\n' "$target" "${counts#\# }"
done
summary="$passed passed, $failed failed"
((skipped)) && summary+=", $skipped skipped"
echo "test: $summary"
((failed == 0 && skipped == 0))
