# shellcheck shell=bash
# Shared helpers of the local loop. Sourced by every script in scripts/.
#
# Everything the loop builds lands under $BUILD (default: build/ in the
# repository). The artifact contract of the project (see README) is
#   build/<arch>/{Image,asyncn.ko,asyncn-test,initramfs.cpio.gz}

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
ARCH=${ARCH:-arm64}
KERNEL=${KERNEL:-6.12}

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() {
	printf '\033[31mERROR: %s\033[0m\n' "$1" >&2
	shift
	local line
	for line in "$@"; do printf '       %s\n' "$line" >&2; done
	exit 1
}

# Per-architecture facts: kernel ARCH, cross compiler prefix, kernel image,
# Rust target of the static test program, QEMU command and console.
arch_setup() {
	case "$ARCH" in
	arm64)
		KARCH=arm64
		CROSS_COMPILE=aarch64-linux-gnu-
		KIMAGE=arch/arm64/boot/Image
		RUST_TARGET=aarch64-unknown-linux-musl
		QEMU=(qemu-system-aarch64 -M virt -cpu cortex-a57)
		CONSOLE=ttyAMA0
		DEB_ARCH=arm64
		;;
	*)
		die "unsupported ARCH=$ARCH" "supported: arm64"
		;;
	esac
	OUT=$BUILD/$ARCH
	export ARCH KARCH CROSS_COMPILE
}

# The kernel source of a KERNEL series: the Debian package that carries it.
kernel_setup() {
	case "$KERNEL" in
	6.12)
		KERNEL_PKG=linux-source-6.12
		KERNEL_TARBALL=/usr/src/linux-source-6.12.tar.xz
		;;
	*)
		die "unsupported KERNEL=$KERNEL" "supported: 6.12"
		;;
	esac
}

# Run a command as root: directly, through sudo, or explain what to run.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo "$@"
	elif command -v sudo >/dev/null 2>&1 && [ -t 0 ]; then
		info "asking sudo for: $*"
		sudo "$@"
	else
		die "root is needed for: $*" "run it as root, then run make again"
	fi
}

# Content hash of files and strings; used to key the kernel cache.
content_key() {
	{
		local arg
		for arg in "$@"; do
			if [ -f "$arg" ]; then cat "$arg"; else printf '%s\n' "$arg"; fi
		done
	} | sha256sum | cut -c1-16
}

# Kernel fragments of the loop: the shared driver fragment, then the board.
kernel_fragments() {
	printf '%s\n' "$TOP/config/asyncn.cfg" "$TOP/config/qemu-$ARCH.cfg"
}

# Where the configured and built kernel of this ARCH/KERNEL lives.
kernel_build_dir() {
	local key
	key=$(content_key "$KERNEL_PKG $(dpkg-query -W -f='${Version}' "$KERNEL_PKG" 2>/dev/null || echo none)" \
		"$ARCH" "$(rustc --version)" "$(bindgen --version 2>/dev/null || true)" \
		"$("${CROSS_COMPILE}gcc" --version 2>/dev/null | head -n1)" $(kernel_fragments))
	printf '%s\n' "$BUILD/kernel/$ARCH-$KERNEL-$key"
}

# make in the kernel build directory, with the loop's toolchain settings.
kmake() {
	make -C "$KSRC" O="$KBUILD" ARCH="$KARCH" CROSS_COMPILE="$CROSS_COMPILE" "$@"
}

kernel_paths() {
	KSRC=$BUILD/src/linux-$KERNEL
	KBUILD=$(kernel_build_dir)
}
