SUMMARY = "asyncn-test: proves and measures the asyncn device"
DESCRIPTION = "Runs the SIGIO scenario (a reader process notified of each \
               message a writer process sends) and the driver's test cases \
               on the target, with TAP output: asyncn-test --list, \
               asyncn-test all."
SECTION = "devel"
CVE_PRODUCT = "asyncn"

# app/ of the asyncn repository at the pinned revision; also sets SRC_URI,
# LICENSE and LIC_FILES_CHKSUM (the repository's COPYING).
require include/asyncn-source.inc
S = "${ASYNCN_TOPDIR}/app"

# The checksummed crates of app/Cargo.lock (make crates-inc), added to
# SRC_URI after the include has set it.
require ${BPN}-crates.inc

inherit cargo cargo-update-recipe-crates

# The tokio case needs the async runtime, an opt-in cargo feature.
CARGO_BUILD_FLAGS:append = " --features tokio"

# No dependency on the module package (it is skipped without Rust in
# KERNEL_FEATURES); core-image-asyncn installs both.
