SUMMARY = "asyncn-test: proves and measures the asyncn device"
DESCRIPTION = "Runs the SIGIO scenario (a reader process notified of each \
               message a writer process sends) and the driver's test cases \
               on the target, with TAP output: asyncn-test --list, \
               asyncn-test all."
HOMEPAGE = "https://github.com/asyncn/asyncn"
BUGTRACKER = "https://github.com/asyncn/asyncn/issues"
SECTION = "devel"
LICENSE = "GPL-2.0-only"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/GPL-2.0-only;md5=801f80980d171dd6425610833a22dbe6"
CVE_PRODUCT = "asyncn"

# The checksummed crates of app/Cargo.lock, regenerated with
# scripts/update-crates-inc.py or `bitbake -c update_crates asyncn-test`.
require ${BPN}-crates.inc

# One source of truth: app/ of the repository this layer lives in. Only the
# crate's own files, never a developer's app/target/.
FILESEXTRAPATHS:prepend := "${ASYNCN_SRCDIR}:"
SRC_URI += "file://app/Cargo.toml \
            file://app/Cargo.lock \
            file://app/src/ \
            "
S = "${UNPACKDIR}/app"

# OE-core's cargo classes; the meta-rust-bin dynamic layer switches this to
# its cargo_bin class.
ASYNCN_TEST_CARGO_CLASSES ?= "cargo cargo-update-recipe-crates"
inherit_defer ${ASYNCN_TEST_CARGO_CLASSES}

# No dependency on the module package (it is skipped without Rust in
# KERNEL_FEATURES); core-image-asyncn installs both.
