#!/usr/bin/env bash
# make test: every check of the project, then a summary. Exit status is
# non-zero when any step failed. Steps that need a failed step are skipped.
. "$(dirname "$0")/lib.sh"
arch_setup
# Failures are counted, not fatal: every step runs and the summary says.
set +e

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

run_step "prerequisites" "$TOP/scripts/install-deps.sh" || {
	printf '%s\n' "${results[@]}"
	exit 1
}

step "checking the app on the host"
run_step "app: cargo fmt --check" app cargo fmt --check
run_step "app: cargo clippy" app cargo clippy --quiet --locked --all-targets -- -D warnings
run_step "app: cargo test" app cargo test --quiet --locked
run_step "driver: rustfmt --check" rustfmt --check --config-path "$TOP/driver/.rustfmt.toml" "$TOP/driver/asyncn.rs"
run_step "scripts: sh -n init/asyncn scripts/guest-init" sh -n "$TOP/init/asyncn" "$TOP/scripts/guest-init"

guest=("guest $ARCH/$KERNEL: asyncn-test all + rmmod")
if run_step "kernel $ARCH/$KERNEL (Rust enabled)" "$TOP/scripts/build-kernel.sh"; then
	run_step "driver: clippy (CLIPPY=1)" env CLIPPY=1 "$TOP/scripts/build-module.sh"
	if run_step "driver: build asyncn.ko" "$TOP/scripts/build-module.sh" &&
		run_step "app: static build for $RUST_TARGET" "$TOP/scripts/build-app.sh" &&
		run_step "initramfs" "$TOP/scripts/build-initramfs.sh"; then
		run_step "${guest[0]}" "$TOP/scripts/run-guest.sh" test || true
	else
		skip_step "${guest[0]}"
	fi
else
	skip_step "driver: clippy"
	skip_step "${guest[0]}"
fi

printf '\n\033[1m==> asyncn test summary\033[0m\n'
printf '    %s\n' "${results[@]}"
guest_counts=$(grep -h -m1 -E '^# [0-9]+ passed, [0-9]+ failed' "$OUT/guest-test.log" 2>/dev/null || true)
[ -n "$guest_counts" ] && printf '    in-guest checks: %s\n' "${guest_counts#\# }"
summary="$passed passed, $failed failed"
((skipped)) && summary+=", $skipped skipped"
echo "test: $summary"
((failed == 0 && skipped == 0))
