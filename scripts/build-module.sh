#!/usr/bin/env bash
# Build driver/ against the loop's kernel: build/<arch>/asyncn.ko.
# With CLIPPY=1, build it through clippy-driver and fail on any lint.
. "$(dirname "$0")/lib.sh"
arch_setup
kernel_setup
kernel_paths
require_kernel_build

# Out-of-tree Rust modules must be built by the rustc that built the kernel:
# the crate metadata in rust/*.rmeta is only readable by that compiler.
kernel_rustc=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$KBUILD/.config")
if [ "$kernel_rustc" != "$(rustc --version)" ]; then
	die "the kernel was built with '$kernel_rustc' but rustc is '$(rustc --version)'" \
		"a Rust module must be built with the kernel's rustc." \
		"Fix: keep rust-toolchain.toml's channel as it was for this kernel, or rebuild the kernel (make kernel)."
fi
require_rust_metadata

flavour=module
[ "${CLIPPY:-0}" = 1 ] && flavour="module (clippy)"
step "building the $flavour for $ARCH/$KERNEL"
build_module "$TOP/driver" driver ${CLIPPY:+CLIPPY=$CLIPPY}
# clippy-driver compiles with other MIR settings than rustc: its object is
# a lint run, not the module that ships, so it is never installed.
if [ "${CLIPPY:-0}" != 1 ]; then
	cp "$MODULE_WORK/asyncn.ko" "$OUT/asyncn.ko"
	info "module: ${OUT#"$TOP"/}/asyncn.ko"
else
	info "clippy: no findings in driver/"
fi
