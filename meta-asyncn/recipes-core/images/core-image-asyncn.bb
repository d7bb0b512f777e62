SUMMARY = "A minimal image with the asyncn driver, asyncn-test and their boot integration"
DESCRIPTION = "A console-only image (as core-image-minimal) plus the asyncn \
               kernel module, loaded at boot with /dev/asyncnN ready before \
               its service reports ready, asyncn-test and the udev rule. \
               Raspberry Pi machines also get an SD card image with a block \
               map for bmaptool."
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

# Raspberry Pi machines: meta-raspberrypi's rpi-base.inc already asks for
# the SD card image, "wic.bz2 wic.bmap" (IMAGE_FSTYPES), for bmaptool.

# The SDK (bitbake core-image-asyncn -c populate_sdk): the Rust cross
# toolchain, and the kernel's build tree for out-of-tree modules. For a Rust
# module, kernel-devsrc carries the kernel's rust/ sources (KERNEL_FEATURES
# contains "rust"), and the kernel's Rust build runs bindgen, which loads
# libclang. The Rust library sources it also needs are not in OE-core's
# nativesdk rust (its -src-lib package is filled for native builds only):
# the repository's README says where to get them.
SDK_TOOLCHAIN_LANGS:append = " rust"
TOOLCHAIN_TARGET_TASK:append = " kernel-devsrc"
TOOLCHAIN_HOST_TASK:append = " nativesdk-bindgen-cli nativesdk-libclang"

# bitbake core-image-asyncn -c testimage logs in over ssh and runs the OEQA
# case lib/oeqa/runtime/cases/asyncn.py.
IMAGE_FEATURES:append:qemuall = " ssh-server-dropbear"
TEST_SUITES = "ping ssh asyncn"
