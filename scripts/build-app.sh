#!/usr/bin/env bash
# Build the static asyncn-test for $ARCH: build/<arch>/asyncn-test.
#
# Cargo builds it as a packager does (release profile of app/Cargo.toml,
# which does not strip), and this step fails if the result is stripped
# anyway: OE-core's package step reads every ELF file with `file` and stops
# with already-stripped QA (an ERROR_QA) when `file` does not say "not
# stripped". The loop then strips its own copy, for a small initramfs.
. "$(dirname "$0")/lib.sh"
arch_setup
step "building asyncn-test for $RUST_TARGET"
# From app/, so that app/.cargo/config.toml (the linker) applies.
# With the `tokio` feature, as the layers build it: every case runs.
(cd "$TOP/app" && cargo build --quiet --release --locked --features tokio --target "$RUST_TARGET")
built=$TOP/app/target/$RUST_TARGET/release/asyncn-test
kind=$(file -b "$built")
case $kind in
*ELF*"not stripped"*) ;;
*) die "app/target/$RUST_TARGET/release/asyncn-test is stripped: file says \"$kind\"" \
	"OE-core would stop in asyncn-test:do_package with already-stripped QA;" \
	"remove strip from [profile.release] in app/Cargo.toml" ;;
esac
mkdir -p "$OUT"
"${CROSS_COMPILE}strip" -o "$OUT/asyncn-test" "$built"
info "app: ${OUT#"$TOP"/}/asyncn-test ($(stat -c %s "$OUT/asyncn-test") bytes stripped; $(stat -c %s "$built") as packagers get it, not stripped)"
