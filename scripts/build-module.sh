#!/usr/bin/env bash
# Build driver/ against the loop's kernel: build/<arch>/asyncn.ko.
# With CLIPPY=1, build it through clippy instead and fail on any lint.
. "$(dirname "$0")/lib.sh"
arch_setup
kernel_setup
kernel_paths

[ -f "$KBUILD/.asyncn-built" ] || die "no kernel build for $ARCH/$KERNEL" "run: make kernel"

# Out-of-tree Rust modules must be built by the rustc that built the kernel:
# the crate metadata in rust/*.rmeta is only readable by that compiler.
kernel_rustc=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$KBUILD/.config")
if [ "$kernel_rustc" != "$(rustc --version)" ]; then
	die "the kernel was built with '$kernel_rustc' but rustc is '$(rustc --version)'" \
		"a Rust module must be built with the kernel's rustc." \
		"Fix: select that toolchain (rustup override set <version>) or rebuild the kernel (make kernel)."
fi
require_rust_metadata

# Kbuild writes its objects next to the sources: build a copy.
work=$OUT/driver-build
mkdir -p "$work"
rsync -a --delete --exclude='*.o' --exclude='*.ko' "$TOP/driver/" "$work/"
log=$OUT/driver-build.log
flavour=module
[ "${CLIPPY:-0}" = 1 ] && flavour="module (clippy)"
step "building the $flavour for $ARCH/$KERNEL"
# Rebuild every time: the copy's timestamps do not track the sources.
kmake M="$work" clean >/dev/null
if ! kmake M="$work" ${CLIPPY:+CLIPPY=$CLIPPY} modules >"$log" 2>&1; then
	cat "$log" >&2
	die "building driver/ failed (log: ${log#"$TOP"/})"
fi
if grep -q '^warning' "$log"; then
	cat "$log" >&2
	die "building driver/ printed warnings; the driver builds warning-free"
fi
if [ "${CLIPPY:-0}" != 1 ]; then
	cp "$work/asyncn.ko" "$OUT/asyncn.ko"
	info "module: ${OUT#"$TOP"/}/asyncn.ko"
else
	info "clippy: no findings in driver/"
fi
