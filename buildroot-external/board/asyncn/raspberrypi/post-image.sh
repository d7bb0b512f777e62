#!/bin/sh
# Post-image script of asyncn_raspberrypi3_64_defconfig and
# asyncn_raspberrypi4_64_defconfig, and the card step of the local loop
# (scripts/build-card.sh): writes sdcard.img into BINARIES_DIR with
# genimage, after genimage.cfg.in beside this script. As Buildroot's own
# board/raspberrypi/post-image.sh, plus the block map and the padding.
#
# BINARIES_DIR (the first argument, as Buildroot passes it) holds the kernel
# (config.txt's kernel=), the device trees (*.dtb), rpi-firmware/ (config.txt,
# cmdline.txt and, from Buildroot's rpi-firmware package, the firmware) and
# rootfs.ext4. genimage, mkdosfs and mcopy come from PATH (Buildroot's host
# directory, or Debian's packages in the loop).
#
# With bmaptool on PATH (BR2_PACKAGE_HOST_BMAP_TOOLS), sdcard.img.bmap is
# written beside the image, for `bmaptool copy`. SDCARD_SIZE (e.g. 128M)
# pads the image to that size first: QEMU's SD card model, like a real
# card, has a power-of-two capacity; the padding is a hole the bmap skips.
set -eu

BOARD_DIR=$(dirname "$0")
BINARIES_DIR=${1:-${BINARIES_DIR:?}}
GENIMAGE_CFG=$BINARIES_DIR/genimage.cfg

KERNEL=$(sed -n 's/^kernel=//p' "$BINARIES_DIR/rpi-firmware/config.txt")
[ -n "$KERNEL" ] || {
	echo "post-image.sh: rpi-firmware/config.txt names no kernel=" >&2
	exit 1
}
BOOT_FILES=
for file in "$BINARIES_DIR"/*.dtb "$BINARIES_DIR"/rpi-firmware/* "$BINARIES_DIR/$KERNEL"; do
	[ -e "$file" ] || continue
	BOOT_FILES="$BOOT_FILES\t\t\t\"${file#"$BINARIES_DIR"/}\",\n"
done
sed "s|#BOOT_FILES#|$BOOT_FILES|" "$BOARD_DIR/genimage.cfg.in" >"$GENIMAGE_CFG"

GENIMAGE_TMP=$(mktemp -d)
ROOTPATH_TMP=$(mktemp -d)
trap 'rm -rf "$GENIMAGE_TMP" "$ROOTPATH_TMP"' EXIT
rm -f "$BINARIES_DIR/sdcard.img"
genimage --rootpath "$ROOTPATH_TMP" --tmppath "$GENIMAGE_TMP" \
	--inputpath "$BINARIES_DIR" --outputpath "$BINARIES_DIR" --config "$GENIMAGE_CFG"

SDCARD=$BINARIES_DIR/sdcard.img
if [ -n "${SDCARD_SIZE:-}" ]; then
	size=$(numfmt --from=iec "$SDCARD_SIZE")
	if [ "$(stat -c %s "$SDCARD")" -gt "$size" ]; then
		echo "post-image.sh: the card's partitions need more than SDCARD_SIZE=$SDCARD_SIZE" >&2
		exit 1
	fi
	truncate -s "$size" "$SDCARD"
fi
rm -f "$SDCARD.bmap"
if command -v bmaptool >/dev/null 2>&1; then
	bmaptool create -o "$SDCARD.bmap" "$SDCARD"
fi
