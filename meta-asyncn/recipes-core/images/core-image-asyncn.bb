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
                 ${ASYNCN_PTEST_INSTALL} \
                 "
# `ptest-runner asyncn-test` on the target, where the distro has "ptest"
# (DISTRO_FEATURES; without it asyncn-test-ptest does not exist, and the
# image has asyncn-test alone).
ASYNCN_PTEST_INSTALL = "${@bb.utils.contains('DISTRO_FEATURES', 'ptest', 'asyncn-test-ptest ptest-runner', '', d)}"
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
# contains "rust"); the kernel's Rust build runs bindgen, which loads
# libclang, and compiles `core` from the Rust library sources, which
# OE-core's nativesdk rust packages as nativesdk-rust-src-lib
# (${libdir}/rustlib/src/rust/library of the SDK's native sysroot).
SDK_TOOLCHAIN_LANGS:append = " rust"
TOOLCHAIN_TARGET_TASK:append = " kernel-devsrc"
TOOLCHAIN_HOST_TASK:append = " nativesdk-bindgen-cli nativesdk-libclang nativesdk-rust-src-lib"

# bitbake core-image-asyncn -c testimage (IMAGE_CLASSES += "testimage")
# boots the image in QEMU, logs in as root over ssh and runs the OEQA case
# lib/oeqa/runtime/cases/asyncn.py. The ssh server is for QEMU machines only;
# the root login it needs comes from the build's development features
# (EXTRA_IMAGE_FEATURES, as kas/common.yml sets them), never from this
# recipe: without them root has no usable password and cannot log in.
IMAGE_FEATURES:append:qemuall = " ssh-server-dropbear"
TEST_SUITES = "ping ssh asyncn"
