#!/usr/bin/env bash
# What can be checked of meta-asyncn and buildroot-external without Yocto or
# Buildroot: their files exist, they reference the repository's own sources,
# and the kernel fragment, init script, systemd unit and udev/mdev rules exist
# once, in config/ and init/, shared by the local loop and both packagings.
. "$(dirname "$0")/lib.sh"

problems=()
fail() { problems+=("$*"); }
need_file() { [ -f "$TOP/$1" ] || fail "missing $1"; }
# need_ref FILE PATTERN: FILE mentions PATTERN.
need_ref() { grep -qF -- "$2" "$TOP/$1" 2>/dev/null || fail "$1 does not reference $2"; }

shared=(config/asyncn.cfg init/asyncn init/asyncn.service init/99-asyncn.rules init/asyncn.mdev
	init/install.sh buildroot-external/board/asyncn/raspberrypi3-64/genimage.cfg.in)
for f in "${shared[@]}"; do need_file "$f"; done

# One copy of each shared file: no file of the same name elsewhere.
for f in "${shared[@]}"; do
	name=$(basename "$f")
	while IFS= read -r copy; do
		[ "$copy" = "./$f" ] || fail "$copy duplicates $f: use the one in $(dirname "$f")/"
	done < <(cd "$TOP" && find . -path ./build -prune -o -path ./.git -prune -o \
		-path ./app/target -prune -o -type f -name "$name" -print)
done

# The local loop boots them.
need_ref scripts/build-initramfs.sh 'init/asyncn '
need_ref scripts/build-initramfs.sh 'init/asyncn.mdev'
need_ref scripts/lib.sh 'config/asyncn.cfg'
# The Raspberry Pi card: the Buildroot board's layout and post-image step,
# and the Yocto recipe's install description.
need_ref scripts/lib.sh 'CARD_BOARD_DIR=buildroot-external/board/asyncn/raspberrypi3-64'
need_ref scripts/build-card.sh '"$board_dir/post-image.sh"'
need_ref scripts/build-card.sh '"$TOP/init/asyncn" "$rootfs/etc/init.d/S30asyncn"'
need_ref scripts/build-debian-root.sh '"$TOP/init/install.sh" "$dest" systemd'
need_ref buildroot-external/configs/asyncn_raspberrypi3_64_defconfig \
	'BR2_ROOTFS_POST_IMAGE_SCRIPT="$(BR2_EXTERNAL_ASYNCN_PATH)/board/asyncn/raspberrypi3-64/post-image.sh"'
need_ref buildroot-external/board/asyncn/raspberrypi3-64/post-image.sh '"$BOARD_DIR/genimage.cfg.in"'
need_ref meta-asyncn/recipes-core/asyncn-init/asyncn-init_0.1.0.bb 'sh ${S}/install.sh ${D}'

# Yocto: the layer builds driver/, app/, init/ and config/ of this repository.
for f in conf/layer.conf recipes-kernel/asyncn/asyncn_0.1.0.bb \
	recipes-kernel/linux/asyncn-kernel-rust.inc recipes-kernel/linux/linux-yocto_%.bbappend \
	dynamic-layers/raspberrypi/recipes-kernel/linux/linux-raspberrypi_%.bbappend \
	recipes-apps/asyncn-test/asyncn-test_0.1.0.bb recipes-apps/asyncn-test/asyncn-test-crates.inc \
	dynamic-layers/rust-bin-layer/recipes-apps/asyncn-test/asyncn-test_%.bbappend \
	recipes-core/asyncn-init/asyncn-init_0.1.0.bb recipes-core/images/core-image-asyncn.bb \
	lib/oeqa/runtime/cases/asyncn.py; do
	need_file "meta-asyncn/$f"
done
need_ref meta-asyncn/conf/layer.conf "ASYNCN_SRCDIR := \"\${@os.path.dirname(d.getVar('LAYERDIR'))}\""
need_ref meta-asyncn/recipes-kernel/asyncn/asyncn_0.1.0.bb 'file://driver/'
need_ref meta-asyncn/recipes-kernel/linux/asyncn-kernel-rust.inc '${ASYNCN_SRCDIR}/config:'
need_ref meta-asyncn/recipes-kernel/linux/asyncn-kernel-rust.inc 'file://asyncn.cfg'
need_ref meta-asyncn/recipes-apps/asyncn-test/asyncn-test_0.1.0.bb 'file://app/Cargo.lock'
need_ref meta-asyncn/recipes-core/asyncn-init/asyncn-init_0.1.0.bb '${ASYNCN_SRCDIR}/init:'
for f in install.sh asyncn asyncn.service 99-asyncn.rules; do
	need_ref meta-asyncn/recipes-core/asyncn-init/asyncn-init_0.1.0.bb "file://$f"
done
for f in common qemuarm64 raspberrypi raspberrypi3-64 raspberrypi4-64 raspberrypi5 opt/meta-rust-bin; do
	need_file "kas/$f.yml"
done

# Buildroot: the same sources, through BR2_EXTERNAL_ASYNCN_PATH.
for f in external.desc external.mk Config.in package/asyncn/Config.in package/asyncn/asyncn.mk \
	package/asyncn-test/Config.in package/asyncn-test/asyncn-test.mk \
	package/asyncn-rust-src/asyncn-rust-src.mk package/asyncn-rust-src/asyncn-rust-src.hash \
	configs/asyncn_qemu_aarch64_virt_defconfig configs/asyncn_raspberrypi3_64_defconfig \
	configs/asyncn_raspberrypi4_64_defconfig \
	board/asyncn/readme.txt; do
	need_file "buildroot-external/$f"
done
need_ref buildroot-external/external.desc 'name: ASYNCN'
need_ref buildroot-external/package/asyncn/asyncn.mk '$(BR2_EXTERNAL_ASYNCN_PATH)/../driver'
need_ref buildroot-external/package/asyncn/asyncn.mk '$(BR2_EXTERNAL_ASYNCN_PATH)/../init'
need_ref buildroot-external/package/asyncn-test/asyncn-test.mk '$(BR2_EXTERNAL_ASYNCN_PATH)/../app'
for f in asyncn asyncn.service 99-asyncn.rules asyncn.mdev; do
	need_ref buildroot-external/package/asyncn/asyncn.mk "\$(ASYNCN_INIT_DIR)/$f"
done
for cfg in buildroot-external/configs/*_defconfig; do
	need_ref "${cfg#"$TOP"/}" 'BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES="$(BR2_EXTERNAL_ASYNCN_PATH)/../config/asyncn.cfg"'
	need_ref "${cfg#"$TOP"/}" 'BR2_PACKAGE_ASYNCN=y'
	need_ref "${cfg#"$TOP"/}" 'BR2_PACKAGE_ASYNCN_TEST=y'
done

if ((${#problems[@]})); then
	die "packaging check failed:" "${problems[@]}"
fi
info "packaging: meta-asyncn and buildroot-external reference the one copy of driver/, app/, init/ and config/"
