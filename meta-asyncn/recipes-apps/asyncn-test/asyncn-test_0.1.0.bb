SUMMARY = "asyncn-test: proves and measures the asyncn device"
DESCRIPTION = "Runs the SIGIO scenario (a reader process notified of each \
               message a writer process sends) and the driver's test cases \
               on the target, with TAP output: asyncn-test --list, \
               asyncn-test all."
SECTION = "devel"
CVE_PRODUCT = "asyncn"

# app/ of the checkout the layer lives in, file by file: the crate's
# manifest, lock file and sources, and the ptest script; not app/target
# (the loop's build output) nor app/.cargo (the loop's rustup linkers).
# The include also sets LICENSE and LIC_FILES_CHKSUM (the repository's
# COPYING).
require include/asyncn-source.inc
SRC_URI += "file://app/Cargo.toml;subdir=asyncn \
            file://app/Cargo.lock;subdir=asyncn \
            file://app/src;subdir=asyncn \
            file://app/run-ptest;subdir=asyncn \
            "
S = "${ASYNCN_TOPDIR}/app"

# The checksummed crates of app/Cargo.lock (make crates-inc), added to
# SRC_URI after the include has set it.
require ${BPN}-crates.inc

inherit cargo cargo-update-recipe-crates ptest

# The tokio case needs the async runtime, an opt-in cargo feature.
CARGO_BUILD_FLAGS:append = " --features tokio"

# No dependency on the module package (it is skipped without Rust in
# KERNEL_FEATURES); core-image-asyncn installs both.

# asyncn-test-ptest: `ptest-runner asyncn-test` runs app/run-ptest (the
# file the loop installs at the same place on its card), which runs
# `asyncn-test all` and prints ptest-runner's PASS:/FAIL:/SKIP: lines.
# Only with "ptest" in DISTRO_FEATURES (ptest.bbclass).
do_install_ptest() {
    install -m 0755 ${S}/run-ptest ${D}${PTEST_PATH}/run-ptest
}
# run-ptest's sh, awk, mktemp and uname; the init integration that loads
# the module. Not the module itself: its recipe is skipped without Rust in
# KERNEL_FEATURES, and this one must still build (bitbake world,
# yocto-check-layer); core-image-asyncn installs it.
RDEPENDS:${PN}-ptest += "${VIRTUAL-RUNTIME_base-utils}"
RRECOMMENDS:${PN}-ptest += "asyncn-init"
