#!/usr/bin/env bash
# Replay the Raspberry Pi kernel configuration of the two packagings, the
# way each merges config/asyncn.cfg, and check that CONFIG_RUST=y and every
# option of the fragment survive. Kernel configuration only (olddefconfig
# level, seconds per combination), no kernel build.
#
#   Yocto (meta-raspberrypi wrynose, linux-raspberrypi 6.18, KERNEL_FEATURES
#   "rust"): kernel-yocto's do_kernel_configme, KCONFIG_MODE=--alldefconfig:
#       merge_config.sh -O <build> <KBUILD_DEFCONFIG> <SRC_URI .cfg ...>
#                       <KERNEL_FEATURES .cfg ...>
#   i.e. one file, the defconfig first, then make alldefconfig with it as
#   KCONFIG_ALLCONFIG. The SRC_URI fragments, in SRC_URI order:
#   meta-raspberrypi's powersave.cfg android-drivers.cfg vc4graphics.cfg
#   (MACHINE_FEATURES vc4graphics, on by default) default-cpu-governor.cfg,
#   rpi4-nvmem.cfg (raspberrypi4 override: Pi 4 only), then meta-asyncn's
#   asyncn.cfg; then KERNEL_FEATURES "rust" = yocto-kernel-cache
#   features/kernel-rust/kernel-rust.cfg.
#     raspberrypi3-64  bcm2711_defconfig   raspberrypi4-64  bcm2711_defconfig
#     raspberrypi5     bcm2712_defconfig
#
#   Buildroot 2026.02.x (asyncn_raspberrypi{3,4}_64_defconfig, raspberrypi/
#   linux 6.12.y, BR2_LINUX_KERNEL_DEFCONFIG="bcm2711" for both boards):
#   package/pkg-kconfig.mk and linux/linux.mk:
#       make bcm2711_defconfig
#       support/kconfig/merge_config.sh -m -O <dir> .config asyncn.cfg
#       make olddefconfig
#       LINUX_KCONFIG_FIXUP_CMDS (MODULES, CPU_LITTLE_ENDIAN, KERNEL_GZIP,
#         DEVTMPFS(_MOUNT) and NET for mdev, # GCC_PLUGINS is not set)
#       make olddefconfig
#
# The Raspberry Pi kernels are forks: a mainline tree of the same series
# stands in for them, so olddefconfig drops the Pi-only drivers (warnings,
# harmless here). What is checked is Kconfig's verdict on Rust and on the
# fragment's options, with the loop's Rust toolchain (rustup's rustc and
# rust-src, bindgen, libclang 19 for 6.18 and 14 for 6.12).
#
# Environment:
#   PI_DEFCONFIGS    directory with 6.18/{bcm2711,bcm2712}_defconfig and
#                    6.12/bcm2711_defconfig (arch/arm64/configs of the
#                    raspberrypi/linux commits the packagings pin)
#   LINUX_618_SRC    a Linux 6.18 source tree (left as it is: O= is used)
#   LINUX_612_SRC    a Linux 6.12 source tree (left as it is: O= is used)
#   META_RPI         meta-raspberrypi checkout (its recipes-kernel/linux/files)
#   KERNEL_RUST_CFG  yocto-kernel-cache features/kernel-rust/kernel-rust.cfg;
#                    without it, its three lines are written here
#   REPLAY_DIR       scratch directory (default: a fresh mktemp -d, removed)
# Exit status: 1 when CONFIG_RUST=y or a fragment option does not survive
# in a combination the project supports.
. "$(dirname "$0")/lib.sh"

PI_DEFCONFIGS=${PI_DEFCONFIGS:?set PI_DEFCONFIGS to the directory of the Pi defconfigs}
LINUX_618_SRC=${LINUX_618_SRC:?set LINUX_618_SRC to a Linux 6.18 tree}
LINUX_612_SRC=${LINUX_612_SRC:?set LINUX_612_SRC to a Linux 6.12 tree}
META_RPI=${META_RPI:?set META_RPI to a meta-raspberrypi checkout}
FRAGMENT=$TOP/config/asyncn.cfg
RPI_FILES=$META_RPI/recipes-kernel/linux/files
for f in "$PI_DEFCONFIGS"/6.18/bcm2711_defconfig "$PI_DEFCONFIGS"/6.18/bcm2712_defconfig \
	"$PI_DEFCONFIGS"/6.12/bcm2711_defconfig "$LINUX_618_SRC/Makefile" "$LINUX_612_SRC/Makefile" \
	"$RPI_FILES/powersave.cfg" "$RPI_FILES/raspberrypi4/rpi4-nvmem.cfg" "$FRAGMENT"; do
	[ -f "$f" ] || die "missing $f"
done

if [ -n "${REPLAY_DIR:-}" ]; then
	mkdir -p "$REPLAY_DIR"
	work=$REPLAY_DIR
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/asyncn-replay.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi

if [ -z "${KERNEL_RUST_CFG:-}" ]; then
	KERNEL_RUST_CFG=$work/kernel-rust.cfg
	printf '%s\n' '# SPDX-License-Identifier: MIT' CONFIG_RUST=y CONFIG_RUST_OVERFLOW_CHECKS=y \
		CONFIG_RUST_BUILD_ASSERT_ALLOW=y >"$KERNEL_RUST_CFG"
fi

# The loop's Rust toolchain (rust-toolchain.toml, through rustup's proxies).
export PATH=$HOME/.cargo/bin:$PATH
command -v rustc >/dev/null && command -v bindgen >/dev/null ||
	die "rustc or bindgen missing" "run: make deps"

# kconf TREE OUT LLVM ARGS...: the kernel's make, niced, for arm64.
kconf() {
	local tree=$1 out=$2 llvm=$3
	shift 3
	LIBCLANG_PATH=/usr/lib/llvm-$llvm/lib nice -n 10 \
		make -s -C "$tree" O="$out" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- "$@"
}
# val CONFIG FILE: y, m, a value, or n.
val() {
	local v
	v=$(sed -n "s/^CONFIG_$1=//p" "$2" | head -n1)
	echo "${v:-n}"
}
# lost FRAGMENT CONFIG: the fragment's lines that the final .config lacks.
lost() {
	local line opt
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) grep -qxF "$line" "$2" || echo "$line" ;;
		"# CONFIG_"*" is not set")
			opt=${line#"# "}
			opt=${opt%% *}
			grep -q "^$opt=" "$2" && echo "$line"
			;;
		esac
	done <"$1"
	return 0
}
# The Kconfig conditions of `config RUST` (init/Kconfig, 6.12 and 6.18),
# and the fragment's options.
SYMS=(RUST HAVE_RUST RUST_IS_AVAILABLE MODVERSIONS GENDWARFKSYMS MODULES MODULE_UNLOAD
	DEVTMPFS DEVTMPFS_MOUNT RANDSTRUCT GCC_PLUGIN_RANDSTRUCT GCC_PLUGINS DEBUG_INFO_BTF
	CFI_CLANG KASAN KASAN_SW_TAGS SHADOW_CALL_STACK LTO CPU_BIG_ENDIAN)

failed=()
rows=()
# record NAME SUPPORTED DEFCONFIG_BASELINE CONFIG LOG
record() {
	local name=$1 supported=$2 base=$3 cfg=$4 log=$5 s row="" miss warn
	for s in RUST HAVE_RUST RUST_IS_AVAILABLE MODVERSIONS MODULES MODULE_UNLOAD DEVTMPFS DEVTMPFS_MOUNT; do
		row+=" $(printf '%-5s' "$(val "$s" "$cfg")")"
	done
	rows+=("$(printf '%-46s%s' "$name" "$row")")
	{
		echo "== $name"
		for s in "${SYMS[@]}"; do
			printf '   %-22s defconfig %-4s final %s\n' "$s" "$(val "$s" "$base")" "$(val "$s" "$cfg")"
		done
		# merge_config's own warnings for the fragment's options.
		while IFS= read -r warn; do
			grep -q "^\(# \)\?${warn}[= ]" "$FRAGMENT" && echo "   merge_config: Value requested for $warn not in final .config"
		done < <(sed -n 's/^Value requested for \(CONFIG_[A-Za-z0-9_]*\) not in final .config$/\1/p' "$log")
	} >>"$work/details"
	miss=$(lost "$FRAGMENT" "$cfg")
	if [ -n "$miss" ]; then
		echo "   LOST: $(echo "$miss" | tr '\n' ' ')" >>"$work/details"
		[ "$supported" = yes ] && failed+=("$name: $(echo "$miss" | tr '\n' ' ')")
	fi
	return 0
}

# baseline TREE LLVM DEFCONFIG OUT: the defconfig alone (make xxx_defconfig).
baseline() {
	mkdir -p "$4"
	cp "$3" "$4/.config"
	kconf "$1" "$4" "$2" olddefconfig >"$4/log" 2>&1 || die "olddefconfig failed" "$(tail -5 "$4/log")"
}

# yocto MACHINE DEFCONFIG EXTRA_CFGS...: kernel-yocto, 6.18.
yocto() {
	local machine=$1 defconfig=$2 out=$work/yocto-$1
	shift 2
	step "Yocto $machine: $(basename "$defconfig") + meta-raspberrypi fragments + asyncn.cfg + kernel-rust.cfg (6.18)"
	baseline "$LINUX_618_SRC" 19 "$defconfig" "$out.base"
	mkdir -p "$out"
	# Run in the source tree, as kernel-yocto does (cd ${S}): merge_config.sh
	# calls make there, with O=.
	(
		cd "$LINUX_618_SRC"
		ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- LIBCLANG_PATH=/usr/lib/llvm-19/lib \
			nice -n 10 scripts/kconfig/merge_config.sh -O "$out" \
			"$defconfig" "$RPI_FILES/powersave.cfg" "$RPI_FILES/android-drivers.cfg" \
			"$RPI_FILES/vc4graphics.cfg" "$RPI_FILES/default-cpu-governor.cfg" "$@" \
			"$FRAGMENT" "$KERNEL_RUST_CFG"
	) >"$out/log" 2>&1 || die "merge_config.sh failed for $machine" "$(tail -5 "$out/log")"
	record "yocto/6.18/$machine" yes "$out.base/.config" "$out/.config" "$out/log"
}

# buildroot BOARDS DEFCONFIG: Buildroot's pkg-kconfig and LINUX_KCONFIG_FIXUP_CMDS, 6.12.
buildroot() {
	local boards=$1 defconfig=$2 out=$work/buildroot-6.12 o
	step "Buildroot $boards: $(basename "$defconfig") + asyncn.cfg, olddefconfig, fixups (6.12)"
	baseline "$LINUX_612_SRC" 14 "$defconfig" "$out.base"
	mkdir -p "$out"
	{
		cp "$defconfig" "$out/.config"
		kconf "$LINUX_612_SRC" "$out" 14 olddefconfig # = make bcm2711_defconfig
		"$LINUX_612_SRC/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$FRAGMENT"
		kconf "$LINUX_612_SRC" "$out" 14 olddefconfig
		# KCONFIG_ENABLE_OPT / KCONFIG_DISABLE_OPT (package/pkg-utils.mk).
		for o in CONFIG_MODULES CONFIG_CPU_LITTLE_ENDIAN CONFIG_KERNEL_GZIP CONFIG_DEVTMPFS \
			CONFIG_DEVTMPFS_MOUNT CONFIG_NET; do
			grep -q "^$o=[my]" "$out/.config" ||
				{ sed -i "/^\(# \)\?$o\>/d" "$out/.config" && echo "$o=y" >>"$out/.config"; }
		done
		sed -i '/^\(# \)\?CONFIG_GCC_PLUGINS\>/d' "$out/.config"
		echo '# CONFIG_GCC_PLUGINS is not set' >>"$out/.config"
		kconf "$LINUX_612_SRC" "$out" 14 olddefconfig
	} >"$out/log" 2>&1 || die "Buildroot replay failed" "$(tail -5 "$out/log")"
	record "buildroot/6.12/$boards" yes "$out.base/.config" "$out/.config" "$out/log"
}

start=$(date +%s)
yocto raspberrypi3-64 "$PI_DEFCONFIGS/6.18/bcm2711_defconfig"
yocto raspberrypi4-64 "$PI_DEFCONFIGS/6.18/bcm2711_defconfig" "$RPI_FILES/raspberrypi4/rpi4-nvmem.cfg"
yocto raspberrypi5 "$PI_DEFCONFIGS/6.18/bcm2712_defconfig"
buildroot raspberrypi3_64+raspberrypi4_64 "$PI_DEFCONFIGS/6.12/bcm2711_defconfig"

printf '\n%-46s %-5s %-5s %-5s %-5s %-5s %-5s %-5s %-5s\n' combination RUST HAVE AVAIL MODV MODS UNLD DEVTM DTMNT
printf '%s\n' "${rows[@]}"
echo
cat "$work/details"
info "replayed in $(($(date +%s) - start)) s"
((${#failed[@]} == 0)) || die "the fragment did not survive in supported combinations:" "${failed[@]}"
step "CONFIG_RUST=y and every option of config/asyncn.cfg survive in all supported combinations"
