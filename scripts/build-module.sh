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
	# The .modinfo records are written by hand (params.rs): read them back
	# as modinfo(8) and the loader do.
	modinfo_out=$(/sbin/modinfo "$OUT/asyncn.ko") || die "modinfo cannot read $OUT/asyncn.ko"
	for want in \
		'license: *GPL$' \
		'author: *asyncn developers$' \
		'parm: *devices:Number of devices /dev/asyncnN \(1-256\) \(uint\)$' \
		'parm: *buffer_size:Size of each device.s message buffer in bytes \(1-65536\) \(uint\)$'; do
		grep -qE "^$want" <<<"$modinfo_out" ||
			die "modinfo of asyncn.ko has no line matching '$want'" "$modinfo_out"
	done
	info "modinfo: licence, author and both parameters with their types"
	# Where the kernel's modules_install puts an external module (as the
	# Yocto and Buildroot module classes run it) is where the init script
	# insmods from when modprobe cannot find the module.
	installed=$OUT/modules-install
	rm -rf "$installed"
	kmake M="$MODULE_WORK" INSTALL_MOD_PATH="$installed" DEPMOD=true modules_install \
		>"$MODULE_WORK.install.log" 2>&1 || die "modules_install failed (log: ${MODULE_WORK#"$TOP"/}.install.log)"
	path=$(cd "$installed" && find lib -name 'asyncn.ko*')
	release=$(cat "$KBUILD/include/config/kernel.release")
	fallback=$(sed -n 's/^ASYNCN_MODULE="\(.*\)"$/\1/p' "$TOP/init/asyncn")
	[ "/${path/$release/\$(uname -r)}" = "$fallback" ] ||
		die "modules_install puts the module at /$path, but init/asyncn falls back to $fallback"
	rm -rf "$installed"
	info "modules_install: /$path, init/asyncn's fallback"
else
	info "clippy: no findings in driver/"
fi
