# With meta-rust-bin in the build, use its cargo_bin class (the upstream
# prebuilt Rust toolchain) instead of OE-core's cargo. Note: cargo_bin
# downloads the crates during do_compile (do_compile[network] = "1").
ASYNCN_TEST_CARGO_CLASSES = "cargo_bin"
