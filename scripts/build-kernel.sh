#!/usr/bin/env bash
# Configure and build the Rust-enabled kernel of $ARCH/$KERNEL, cached.
#
# The build directory is keyed by the kernel package version, the options the
# fragments set and the toolchain versions (see kernel_build_dir in lib.sh): a
# second run with the same inputs only copies the image.
. "$(dirname "$0")/lib.sh"
arch_setup
kernel_setup
kernel_paths

stamp=$KBUILD/.asyncn-built
# The cache is the machine's: one build of a kernel at a time, and a
# build's use is recorded, so that only builds no clone has used for a
# while are pruned.
lock_kernel_cache
if [ -f "$stamp" ]; then
	info "kernel $ARCH/$KERNEL: cached in ${KBUILD#"$TOP"/}"
else
	if [ ! -f "$KSRC/Makefile" ]; then
		step "unpacking $KERNEL_TARBALL"
		[ -f "$KERNEL_TARBALL" ] || die "$KERNEL_TARBALL is missing" "run: make deps"
		rm -rf "$KSRC.tmp"
		mkdir -p "$KSRC.tmp"
		tar -xf "$KERNEL_TARBALL" -C "$KSRC.tmp" --strip-components=1
		rm -rf "$KSRC"
		mv -T "$KSRC.tmp" "$KSRC"
	fi

	step "configuring Linux $KERNEL for $ARCH${FLAVOUR:+ ($FLAVOUR flavour)} (allnoconfig + fragments)"
	rm -rf "$KBUILD"
	mkdir -p "$KBUILD"
	fragment=$KBUILD/asyncn-fragments.config
	kernel_fragment_text >"$fragment"
	kmake -s KCONFIG_ALLCONFIG="$fragment" allnoconfig

	# The silent drop: olddefconfig/allnoconfig turn CONFIG_RUST off when
	# the Rust toolchain is not usable, without an error. Say why.
	if ! grep -qx 'CONFIG_RUST=y' "$KBUILD/.config"; then
		have=$(grep -q '^CONFIG_HAVE_RUST=y' "$KBUILD/.config" && echo y || echo n)
		available=$(grep -q '^CONFIG_RUST_IS_AVAILABLE=y' "$KBUILD/.config" && echo y || echo n)
		reason=$(kmake -s rustavailable 2>&1 || true)
		if [ "$available" = n ]; then
			die "CONFIG_RUST=y did not survive kernel configuration" \
				"RUST_IS_AVAILABLE=n: the kernel's Rust toolchain check failed." \
				"make rustavailable says:" "$reason" \
				"Fix: run 'make deps' (rustc, rust-src, bindgen-cli, libclang), or set" \
				"LIBCLANG_PATH to a libclang the kernel accepts, then run make again."
		fi
		die "CONFIG_RUST=y did not survive kernel configuration" \
			"HAVE_RUST=$have, RUST_IS_AVAILABLE=$available: the toolchain is fine, but this" \
			"architecture configuration does not offer Rust (or another option excludes it," \
			"see 'config RUST' in init/Kconfig). On 32-bit ARM, Rust needs Linux 6.18+," \
			"an MMU ARMv7 little-endian kernel in ARM mode (no THUMB2_KERNEL) and no KASAN." \
			"Check: make -C $KSRC O=$KBUILD ARCH=$KARCH menuconfig"
	fi
	# Every other option the fragments ask for must be there too.
	lost=()
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) grep -qxF "$line" "$KBUILD/.config" || lost+=("$line") ;;
		"# CONFIG_"*" is not set")
			opt=${line#"# "}
			opt=${opt%% *}
			grep -q "^$opt=" "$KBUILD/.config" && lost+=("$line")
			;;
		esac
	done <"$fragment"
	((${#lost[@]} == 0)) || die "kernel configuration lost options the fragments set:" "${lost[@]}" \
		"Check their dependencies with: make -C $KSRC O=$KBUILD ARCH=$KARCH menuconfig"

	step "building Linux $KERNEL for $ARCH ($(nproc) jobs; a few minutes, once)"
	start=$(date +%s)
	kmake -j"$(nproc)" -s "$(basename "$KIMAGE")" modules modules_prepare $(kernel_dtbs)
	require_rust_metadata
	touch "$stamp"
	info "kernel built in $(($(date +%s) - start)) s"
	# Builds that no clone has used for two weeks (by their mark of use,
	# or, without one, their own age), and source trees older than a day
	# (not one being unpacked for a build) that no build left refers to:
	# a build's Makefile names its tree by its real path.
	for old in "$CACHE/kernel/"*/; do
		old=${old%/}
		[ "$old" = "$KBUILD" ] && continue
		used=$old/.asyncn-used
		[ -e "$used" ] || used=$old
		if [ -n "$(find "$used" -maxdepth 0 -mtime +13 2>/dev/null)" ]; then
			info "removing ${old##*/} from the cache (unused for two weeks)"
			rm -rf "$old"
		fi
	done
	for tree in "$CACHE/src/"*; do
		[ -d "$tree" ] && [ -n "$(find "$tree" -maxdepth 0 -mtime +0 2>/dev/null)" ] || continue
		grep -qsF "include $(realpath "$tree")/Makefile" "$CACHE"/kernel/*/Makefile || rm -rf "$tree"
	done
fi
touch "$KBUILD/.asyncn-used"

mkdir -p "$OUT"
cp "$KBUILD/$KIMAGE" "$OUT/Image"
for dtb in $(kernel_dtbs); do
	cp "$KBUILD/arch/$KARCH/boot/dts/$dtb" "$OUT/"
	info "device tree: ${OUT#"$TOP"/}/${dtb##*/}"
done
ln -sfn "$KBUILD" "$OUT/kernel-build"
info "kernel image: ${OUT#"$TOP"/}/Image"
