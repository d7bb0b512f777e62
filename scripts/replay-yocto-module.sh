#!/usr/bin/env bash
# Replays, on this machine, the module build of meta-asyncn's asyncn recipe:
# the do_compile that `bitbake -e asyncn` prints (module.bbclass's make line
# with EXTRA_OEMAKE, KERNEL_SRC and module-rust's KRUSTFLAGS), run as it is
# against the loop's Linux 6.18 kernel, the kernel of Yocto wrynose. Only
# the toolchain and the paths are replaced by this machine's (the table is
# printed): OE's cross prefix by Debian's, the kernel's source and build
# directories by the loop's, the recipe's S by a copy of driver/.
#
# Usage: LINUX_SRC=<linux-6.18.y tree> scripts/replay-yocto-module.sh ENV_FILE
#   ENV_FILE   the output of `bitbake -e asyncn` (scripts/replay-yocto.sh
#              writes one per machine)
# Needs the loop's arm64/6.18 kernel: make kernel KERNEL=6.18 LINUX_SRC=<tree>.
. "$(dirname "$0")/lib.sh"

env_file=${1:-}
[ -f "$env_file" ] || die "no bitbake -e output given" "run: $0 <output of bitbake -e asyncn>"
ARCH=arm64 KERNEL=6.18 FLAVOUR= BOARD= INIT=busybox
arch_setup
kernel_setup
kernel_paths
require_kernel_build
require_rust_metadata

# value NAME: a variable's value as bitbake -e prints it (NAME="...").
value() { sed -n "s/^\(export \)\{0,1\}$1=\"\(.*\)\"$/\2/p" "$env_file" | tail -n 1; }
# function NAME: a shell function's text as bitbake -e prints it.
function_text() { sed -n "/^$1() {\$/,/^}\$/p" "$env_file"; }

recipe_s=$(value S)
kernel_source=$(value STAGING_KERNEL_DIR)
kernel_build=$(value STAGING_KERNEL_BUILDDIR)
cross=$(value CROSS_COMPILE)
arch=$(value ARCH)
for v in recipe_s kernel_source kernel_build cross arch; do
	[ -n "${!v}" ] || die "$env_file has no value for $v: is it bitbake -e asyncn?"
done
[ "$arch" = arm64 ] || die "$env_file is for ARCH=$arch; the loop's 6.18 kernel is arm64"
compile=$(function_text do_compile)
grep -q 'module_do_compile' <<<"$compile" || die "do_compile of $env_file does not run module_do_compile" "$compile"

work=$OUT/yocto-module
rm -rf "$work"
mkdir -p "$work"
rsync -a --exclude='*.o' --exclude='*.ko' "$TOP/driver/" "$work/driver/"

step "replaying the asyncn recipe's do_compile against Linux $(make -s -C "$KSRC" kernelversion) (arm64)"
# The replacements, longest first (S lies below the work directory).
replacements=(
	"$recipe_s|$work/driver|the recipe's S: a copy of driver/"
	"$kernel_build|$KBUILD|STAGING_KERNEL_BUILDDIR: the loop's 6.18 build"
	"$kernel_source|$KSRC|STAGING_KERNEL_DIR: the 6.18 tree"
	"$cross|$CROSS_COMPILE|OE's cross prefix: Debian's"
	"-fcanon-prefix-map ||GCC 13's option, which Debian 12's GCC 12 lacks (only source paths in debug info)"
)
script=$work/do_compile.sh
{
	echo 'set -e'
	echo "export ARCH=$arch CROSS_COMPILE=$cross KBUILD_OUTPUT=$kernel_build KERNEL_VERSION="
	echo 'bbnote() { echo "NOTE: $*"; }'
	echo 'die() { echo "ERROR: $*" >&2; exit 1; }'
	for f in oe_runmake_call oe_runmake module_do_compile do_compile; do
		function_text "$f"
	done
	echo "cd $recipe_s"
	echo 'unset CFLAGS CPPFLAGS CXXFLAGS LDFLAGS'
	echo 'do_compile'
} >"$script"
for r in "${replacements[@]}"; do
	IFS='|' read -r from to why <<<"$r"
	info "replace: ${from% } -> ${to:-(nothing)}   ($why)"
	python3 - "$script" "$from" "$to" <<'PY'
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
open(path, "w").write(text.replace(old, new))
PY
done
grep -q 'aarch64-oe-linux' "$script" && die "the replayed script still names OE's toolchain" "$(grep -n 'aarch64-oe-linux' "$script")"
info "the make line, as do_compile runs it:"
grep -E '^\s+make ' "$script" | sed 's/^\s*/      /'
log=$work/do_compile.log
start=$SECONDS
if ! bash "$script" >"$log" 2>&1; then
	tail -n 20 "$log" >&2
	die "the recipe's do_compile failed against the 6.18 kernel (log: $log)"
fi
[ -f "$work/driver/asyncn.ko" ] || die "do_compile succeeded but wrote no asyncn.ko (log: $log)"
vermagic=$(/sbin/modinfo -F vermagic "$work/driver/asyncn.ko")
release=$(cat "$KBUILD/include/config/kernel.release")
[[ "$vermagic" == "$release "* ]] || die "asyncn.ko's vermagic '$vermagic' is not the 6.18 kernel's ($release)"
# module-rust's KRUSTFLAGS must reach rustc through Kbuild (the command
# Kbuild records for the object).
grep -q -- "--remap-path-prefix=$work/driver=" "$work/driver/.asyncn.o.cmd" ||
	die "rustc's command for asyncn.o lacks KRUSTFLAGS' --remap-path-prefix (driver/Makefile must pass it on)"
info "asyncn.ko built in $((SECONDS - start)) s: vermagic '$vermagic'; rustc ran with KRUSTFLAGS' --remap-path-prefix"
