#!/usr/bin/env bash
# Build bench/ (the C baseline of `make bench`) against the loop's kernel:
# build/<arch>/asyncn_c.ko. Never packaged by the layers.
. "$(dirname "$0")/lib.sh"
arch_setup
kernel_setup
kernel_paths
require_kernel_build

step "building the C baseline module for $ARCH/$KERNEL"
build_module "$TOP/bench" bench
cp "$MODULE_WORK/asyncn_c.ko" "$OUT/asyncn_c.ko"
info "module: ${OUT#"$TOP"/}/asyncn_c.ko"
