#!/usr/bin/env bash
# Build bench/ (the C baseline of `make bench`) against the loop's kernel:
# build/<arch>/asyncn_c.ko. Never packaged by the layers.
. "$(dirname "$0")/lib.sh"
arch_setup
kernel_setup
kernel_paths

[ -f "$KBUILD/.asyncn-built" ] || die "no kernel build for $ARCH/$KERNEL" "run: make kernel"
work=$OUT/bench-build
mkdir -p "$work"
rsync -a --delete --exclude='*.o' --exclude='*.ko' "$TOP/bench/" "$work/"
log=$OUT/bench-build.log
step "building the C baseline module for $ARCH/$KERNEL"
kmake M="$work" clean >/dev/null
if ! kmake M="$work" modules >"$log" 2>&1 || grep -q 'warning:' "$log"; then
	cat "$log" >&2
	die "building bench/ failed or warned (log: ${log#"$TOP"/})"
fi
cp "$work/asyncn_c.ko" "$OUT/asyncn_c.ko"
info "module: ${OUT#"$TOP"/}/asyncn_c.ko"
