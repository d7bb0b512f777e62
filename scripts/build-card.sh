#!/usr/bin/env bash
# The SD card image of the Raspberry Pi 3 Model B (BOARD=raspi3b), as a
# user gets it to flash: build/arm64/raspi3b/sdcard.img.bz2 and sdcard.img.bmap.
#
#   root file system  busybox (init from /etc/inittab, /etc/init.d/rcS, mdev),
#                     the project's init script as /etc/init.d/S30asyncn and
#                     its mdev rule (as Buildroot installs them), the module,
#                     asyncn-test and the loop's run (scripts/guest-init);
#                     or, for INIT=systemd, the Debian root of
#                     scripts/build-debian-root.sh
#   boot partition    Image, bcm2837-rpi-3-b.dtb, config.txt, cmdline.txt
#   layout            genimage, through the Buildroot board's post-image.sh
#                     and genimage.cfg.in: one description for both
#
# QEMU's SD model takes only cards whose size is a power of two, like real
# cards' capacities: post-image.sh pads the image to CARD_SIZE (128M; 1G
# for the Debian root) before it makes the block map, so the padding is a
# hole that bmaptool skips.
. "$(dirname "$0")/lib.sh"
arch_setup
kernel_setup
kernel_paths
[ "$BOARD" = raspi3b ] || die "build-card.sh is for BOARD=raspi3b"

busybox=$BUILD/busybox/$DEB_ARCH/busybox
for f in "$busybox" "$OUT/Image" "$OUT/$CARD_DTB" "$OUT/asyncn.ko" "$OUT/asyncn-test"; do
	[ -e "$f" ] || die "missing $f" "run: make deps kernel module app"
done
release=$(cat "$KBUILD/include/config/kernel.release")
board_dir=$TOP/$CARD_BOARD_DIR

step "assembling the Raspberry Pi 3 card (${INIT} root file system)"
rm -rf "$CARD_DIR"
rootfs=$CARD_DIR/rootfs
images=$CARD_DIR/images
mkdir -p "$rootfs" "$images/rpi-firmware"

# The boot partition's files, named as Buildroot's BINARIES_DIR names them.
cp "$OUT/Image" "$OUT/$CARD_DTB" "$images/"
cp "$board_dir/config.txt" "$board_dir/cmdline.txt" "$images/rpi-firmware/"

if [ "$INIT" = systemd ]; then
	"$TOP/scripts/build-debian-root.sh" "$rootfs"
	card_size=${CARD_SIZE:-1G}
	# Built by root with the owners, groups and setuid bits debootstrap gave.
	mkfs.ext4 -q -F -L rootfs -d "$rootfs" "$images/rootfs.ext4" 900M >/dev/null
else
	mkdir -p "$rootfs"/{bin,sbin,dev,proc,sys,tmp,root,run,etc/init.d,etc/default,usr/bin,usr/sbin,usr/libexec/asyncn}
	mkdir -p "$rootfs/lib/modules/$release/updates"
	install -m 0755 "$busybox" "$rootfs/bin/busybox"
	ln -s busybox "$rootfs/bin/sh"
	ln -s ../bin/busybox "$rootfs/sbin/init"
	install -m 0644 "$TOP/scripts/card/inittab" "$rootfs/etc/inittab"
	install -m 0755 "$TOP/scripts/card/rcS" "$rootfs/etc/init.d/rcS"
	# As Buildroot's asyncn package installs them (init/install.sh, the
	# script as S30asyncn, the mdev line); several devices, so that fan-out
	# and isolation span devices.
	INIT_SCRIPT=S30asyncn UDEVRULESDIR=/usr/lib/udev/rules.d ASYNCN_PARAMS="devices=4" \
		"$TOP/init/install.sh" "$rootfs" sysvinit
	install -m 0644 "$TOP/init/asyncn.mdev" "$rootfs/etc/mdev.conf"
	# The group the mdev rule gives the nodes to.
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
	printf 'root:x:0:\nasyncn:x:990:\n' >"$rootfs/etc/group"
	install -m 0644 "$OUT/asyncn.ko" "$rootfs/lib/modules/$release/updates/asyncn.ko"
	install -m 0755 "$OUT/asyncn-test" "$rootfs/usr/bin/asyncn-test"
	# Where meta-asyncn's asyncn-test-ptest puts it: the guest's test run
	# is this script's.
	install -D -m 0755 "$TOP/app/run-ptest" "$rootfs/usr/lib/asyncn-test/ptest/run-ptest"
	install -m 0755 "$TOP/scripts/guest-init" "$rootfs/usr/libexec/asyncn/guest-run"
	card_size=${CARD_SIZE:-128M}
	# Owned by root on the card, whoever builds it.
	fakeroot -- sh -c 'chown -R 0:0 "$1" && mkfs.ext4 -q -F -L rootfs -d "$1" "$2" 64M' \
		mkfs "$rootfs" "$images/rootfs.ext4" >/dev/null
fi

# The Buildroot boards' post-image step, as Buildroot runs it: genimage,
# the padding to the card's size, the block map.
BINARIES_DIR=$images SDCARD_SIZE=$card_size "$TOP/$CARD_IMAGE_DIR/post-image.sh" "$images" \
	>"$CARD_DIR/genimage.log" 2>&1 ||
	{ cat "$CARD_DIR/genimage.log" >&2 && die "the card's post-image step failed (log: ${CARD_DIR#"$TOP"/}/genimage.log)"; }
card=$CARD_DIR/sdcard.img
[ -f "$images/sdcard.img.bmap" ] || die "post-image.sh wrote no sdcard.img.bmap (is bmaptool installed?)"
mv "$images/sdcard.img" "$images/sdcard.img.bmap" "$CARD_DIR/"
bzip2 -9 -f "$card"
rm -rf "$rootfs" "$images/rootfs.ext4" "$images/boot.vfat"
info "card: ${CARD_DIR#"$TOP"/}/sdcard.img.bz2 ($(du -k "$card.bz2" | cut -f1) KiB) and sdcard.img.bmap, a $card_size card"
