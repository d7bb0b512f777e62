SUMMARY = "A minimal image with the asyncn driver, asyncn-test and their boot integration"
DESCRIPTION = "A console-only image (as core-image-minimal) plus the asyncn \
               kernel module, loaded at boot with /dev/asyncnN ready before \
               its service reports ready, asyncn-test and the udev rule. \
               Raspberry Pi machines also get an SD card image with a block \
               map for bmaptool."
HOMEPAGE = "https://github.com/asyncn/asyncn"
BUGTRACKER = "https://github.com/asyncn/asyncn/issues"
SECTION = "images"
LICENSE = "MIT"
CVE_PRODUCT = "asyncn"

# "asyncn", not "kernel-module-asyncn": the kernel's PACKAGES_DYNAMIC would
# satisfy the latter even when the asyncn recipe is skipped (no Rust for
# this machine's kernel), deferring the failure to the rootfs.
IMAGE_INSTALL = "packagegroup-core-boot ${CORE_IMAGE_EXTRA_INSTALL} \
                 asyncn asyncn-init asyncn-test \
                 "
# No locales (a space, not empty, overrides the default), as core-image-minimal.
# nooelint: oelint.vars.notneededspace
IMAGE_LINGUAS = " "

inherit core-image

IMAGE_ROOTFS_SIZE ?= "8192"
IMAGE_ROOTFS_EXTRA_SPACE:append = "${@bb.utils.contains("DISTRO_FEATURES", "systemd", " + 4096", "", d)}"

# SD card for Raspberry Pi (the "rpi" machine override of meta-raspberrypi),
# flashed with bmaptool.
# nooelint: oelint.vars.specific
IMAGE_FSTYPES:append:rpi = " wic.bz2 wic.bmap"

# bitbake core-image-asyncn -c testimage logs in over ssh and runs the OEQA
# case lib/oeqa/runtime/cases/asyncn.py.
IMAGE_FEATURES:append:qemuall = " ssh-server-dropbear"
TEST_SUITES = "ping ssh asyncn"
