#!/usr/bin/env bash
# Build the static asyncn-test for $ARCH: build/<arch>/asyncn-test.
. "$(dirname "$0")/lib.sh"
arch_setup
step "building asyncn-test for $RUST_TARGET"
# From app/, so that app/.cargo/config.toml (the linker) applies.
(cd "$TOP/app" && cargo build --quiet --release --locked --target "$RUST_TARGET")
mkdir -p "$OUT"
cp "$TOP/app/target/$RUST_TARGET/release/asyncn-test" "$OUT/asyncn-test"
info "app: ${OUT#"$TOP"/}/asyncn-test"
