# shellcheck shell=bash
# Shared helpers of the local loop. Sourced by every script in scripts/.
#
# Everything the loop builds lands under $BUILD (default: build/ in the
# repository). The artifact contract of the project (see README) is
#   build/<arch>/{Image,asyncn.ko,asyncn-test,initramfs.cpio.gz}

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# mkfs.ext4 and mkdosfs (the card) live in /sbin, which a normal user's PATH
# on Debian lacks.
export PATH=$PATH:/usr/sbin:/sbin
BUILD=${BUILD:-$TOP/build}
# What the loop keeps outside the checkout, shared by every clone on the
# machine: Debian's kernel source packages (pkg/), their unpacked trees
# (src/) and the kernel builds (kernel/), each keyed by what it is made
# from, so that a fresh clone on a machine that has built before builds no
# kernel again; also the Debian root of INIT=systemd (debian/).
CACHE=${ASYNCN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/asyncn}
ARCH=${ARCH:-arm64}
KERNEL=${KERNEL:-}
# FLAVOUR=debug: the kernel with lockdep, KASAN, KFENCE, kmemleak (Clang-built).
# FLAVOUR=trace: the default kernel plus ftrace's function-graph tracer
# (make bench: where the slowest writes spend their time).
FLAVOUR=${FLAVOUR:-}
# BOARD=virt: QEMU "virt" boots the kernel and an initramfs.
# BOARD=raspi3b: QEMU's Raspberry Pi 3 Model B boots an SD card image
# (scripts/build-card.sh), flashed with bmaptool as a user flashes a card.
BOARD=${BOARD:-}
# INIT=busybox: busybox init (or the initramfs /init on "virt").
# INIT=systemd: a Debian bookworm root with systemd and udev, on the card.
INIT=${INIT:-busybox}

# Steps show the time since the make command started (the Makefile sets
# ASYNCN_T0; a script run by itself starts its own clock).
ASYNCN_T0=${ASYNCN_T0:-$(date +%s)}
export ASYNCN_T0
step() {
	local t=$(($(date +%s) - ASYNCN_T0))
	printf '\033[1m==> [%d:%02d] %s\033[0m\n' $((t / 60)) $((t % 60)) "$*" >&2
}
info() { printf '    %s\n' "$*" >&2; }
die() {
	printf '\033[31mERROR: %s\033[0m\n' "$1" >&2
	shift
	local line
	for line in "$@"; do printf '       %s\n' "$line" >&2; done
	exit 1
}

# The Rust toolchain of the loop: the one rust-toolchain.toml pins, for every
# rustc, cargo and rustdoc the loop runs (a kernel and its out-of-tree
# modules must be built by one compiler, and each kernel series was verified
# with this one). install-deps.sh installs it through rustup.
[ -f "$TOP/rust-toolchain.toml" ] || die "$TOP/rust-toolchain.toml is missing"
RUST_TOOLCHAIN=$(tr -d '\r' <"$TOP/rust-toolchain.toml" |
	sed -n "s/^[[:space:]]*channel[[:space:]]*=[[:space:]]*[\"']\([^\"']*\)[\"'].*/\1/p" | head -n1)
[ -n "$RUST_TOOLCHAIN" ] || die "rust-toolchain.toml names no channel"
export RUSTUP_TOOLCHAIN=$RUST_TOOLCHAIN

# Per-architecture facts: kernel ARCH, cross compiler prefix, kernel image,
# Rust target of the static test program, QEMU command and console, the
# Debian architecture of busybox, and the kernel series used by default.
#
# A guest gets exactly the devices it uses. QEMU_DEVICES starts from
# -nodefaults, so QEMU adds none of its defaults: no network card (whose
# option ROM comes from a package that is only a Recommends of QEMU), no
# VGA, monitor, parallel port, floppy or CD-ROM drive. What remains is the
# board's own built-in devices; the guests use the CPU, RAM, interrupt
# controller, timers and the one UART:
#   arm64, arm  QEMU "virt": GIC, PL011 UART (the console, on stdio),
#               and, unused, the PL031 RTC, PL061 GPIO with its power key,
#               fw_cfg, two empty flash banks, an empty PCIe host bridge
#               and 32 empty virtio-mmio slots. QEMU loads the kernel and
#               initramfs.
#   x86_64      QEMU "pc": i440FX and PIIX3 chipset, 16550 UART (the
#               console), and, unused, the PS/2 controller, the IDE and
#               floppy controllers with no drive, HPET, RTC, PC speaker,
#               ACPI, vmport and its mouse; SeaBIOS starts the kernel QEMU
#               loads.
# No network card, disk, display or USB. scripts/check-guest-devices.py
# asks QEMU which devices a guest really has, and `make test` fails on any
# of those.
#
# The console is stdio through a multiplexer ("mux"), which reads the
# escape Ctrl-A b on its input as a break on the serial line: the kernel's
# SysRq, which run-guest.sh uses to have a guest that ran out of time print
# its blocked tasks before it is killed.
QEMU_DEVICES=(-nodefaults -display none -chardev stdio,id=serial0,mux=on -serial chardev:serial0 -monitor none)

# console_input_open: CONSOLE_FD becomes the input of a guest's console
# (QEMU's standard input), a FIFO that only the loop's scripts write to,
# open for reading and writing so that QEMU never reads its end; and it
# keeps QEMU awake. QEMU 7.2, it seems, can miss a wake-up of its main
# loop, which runs the guest's timers: the guest then stands still, every
# core idle, its timers expired but not delivered, until something wakes
# the main loop. On the emulated Pi under host load this froze 2 guests of
# 5 (the issue's load-cycle hang, and once at boot) with nothing on the
# console; once woken, RCU reported "rcu_sched kthread timer wakeup didn't
# happen for 10144 jiffies", and a QMP query-status, which sends the guest
# nothing, woke a frozen guest within 2 s. So the console's input wakes the
# main loop twice a second with Ctrl-A z, an escape that the multiplexer
# swallows: the guest sees nothing of it, and a freeze lasts half a second
# at most. The loop stops with the script that started it;
# console_input_close stops it sooner.
console_input_open() {
	local fifo parent=$BASHPID
	fifo=$(mktemp -u "${TMPDIR:-/tmp}/asyncn-console.XXXXXX")
	mkfifo -m 0600 "$fifo"
	exec {CONSOLE_FD}<>"$fifo"
	rm -f "$fifo"
	(while sleep 0.5 && kill -0 "$parent" 2>/dev/null; do to_console z; done) >/dev/null 2>&1 &
	CONSOLE_KEEPALIVE=$!
}
console_input_close() {
	kill "$CONSOLE_KEEPALIVE" 2>/dev/null || true
	wait "$CONSOLE_KEEPALIVE" 2>/dev/null || true
	exec {CONSOLE_FD}>&-
}
# to_console KEYS: Ctrl-A and KEYS to the console's multiplexer, in one
# write, so that two writers never interleave ("b8": a break, then 8).
to_console() { printf '\001%s' "$1" >&"$CONSOLE_FD"; }
arch_setup() {
	case "$ARCH" in
	arm64)
		KARCH=arm64
		CROSS_COMPILE=aarch64-linux-gnu-
		CROSS_PKG=gcc-aarch64-linux-gnu
		KIMAGE=arch/arm64/boot/Image
		RUST_TARGET=aarch64-unknown-linux-musl
		QEMU=(qemu-system-aarch64 -M virt -cpu cortex-a57)
		QEMU_PKG=qemu-system-arm
		CONSOLE=ttyAMA0
		DEB_ARCH=arm64
		DEFAULT_KERNEL=6.12
		;;
	arm)
		KARCH=arm
		CROSS_COMPILE=arm-linux-gnueabihf-
		# The static app links against the cross glibc.
		CROSS_PKG="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
		KIMAGE=arch/arm/boot/zImage
		# Static glibc (see app/.cargo/config.toml): the armv7 musl standard
		# library is not available from every Rust distribution server.
		RUST_TARGET=armv7-unknown-linux-gnueabihf
		QEMU=(qemu-system-arm -M virt -cpu cortex-a15)
		QEMU_PKG=qemu-system-arm
		CONSOLE=ttyAMA0
		DEB_ARCH=armhf
		DEFAULT_KERNEL=7.3
		;;
	x86_64)
		KARCH=x86_64
		CROSS_COMPILE=
		CROSS_PKG=gcc
		KIMAGE=arch/x86/boot/bzImage
		RUST_TARGET=x86_64-unknown-linux-musl
		QEMU=(qemu-system-x86_64 -M pc -cpu max)
		QEMU_PKG=qemu-system-x86
		CONSOLE=ttyS0
		DEB_ARCH=amd64
		DEFAULT_KERNEL=6.12
		;;
	*)
		die "unsupported ARCH=$ARCH" "supported: arm64, arm, x86_64"
		;;
	esac
	KERNEL=${KERNEL:-$DEFAULT_KERNEL}
	# build/<arch> holds the arch's default kernel; others get their own.
	if [ "$KERNEL" = "$DEFAULT_KERNEL" ]; then OUT=$BUILD/$ARCH; else OUT=$BUILD/$ARCH-$KERNEL; fi
	case "$FLAVOUR" in
	"") ;;
	debug) OUT=$OUT-debug ;;
	trace) OUT=$OUT-trace ;;
	*) die "unknown FLAVOUR=$FLAVOUR" "supported: debug, trace" ;;
	esac
	# make mutants: each mutated driver's initramfs and guest log apart.
	OUT=${ASYNCN_OUT:-$OUT}
	# The guest's QEMU command line, less what it boots (-kernel, -initrd,
	# -append): run-guest.sh boots it, check-guest-devices.sh inspects it.
	# GUEST_CPUS: make bench boots one (see bench.sh).
	QEMU_GUEST=("${QEMU[@]}" "${QEMU_DEVICES[@]}" -smp "${GUEST_CPUS:-2}" -m 512 -no-reboot)
	board_setup
	export ARCH KARCH CROSS_COMPILE KERNEL BOARD INIT
}

# The Raspberry Pi 3 Model B: QEMU's "raspi3b" (BCM2837, four Cortex-A53,
# 1 GiB, both fixed by the machine). QEMU does not run the Pi's GPU
# firmware, so it is given the kernel and device tree that the card's boot
# partition holds, and the command line of its cmdline.txt. The card is the
# only drive; the PL011 is the console (serial0), the mini UART unused.
CARD_DTB=bcm2837-rpi-3-b.dtb
# The Pi 3's config.txt and cmdline.txt; the card's layout and post-image
# step, which the Buildroot Pi 3 and Pi 4 defconfigs share.
CARD_BOARD_DIR=buildroot-external/board/asyncn/raspberrypi3-64
CARD_IMAGE_DIR=buildroot-external/board/asyncn/raspberrypi
board_setup() {
	case "$INIT" in
	busybox) BOARD=${BOARD:-virt} ;;
	systemd)
		[ -z "$BOARD" ] || [ "$BOARD" = raspi3b ] ||
			die "INIT=systemd boots the Raspberry Pi card: BOARD=raspi3b (or no BOARD), not $BOARD"
		BOARD=raspi3b
		;;
	*) die "unknown INIT=$INIT" "supported: busybox, systemd (Debian bookworm, on BOARD=raspi3b)" ;;
	esac
	case "$BOARD" in
	virt) ;;
	raspi3b)
		[ "$ARCH" = arm64 ] && [ -z "$FLAVOUR" ] ||
			die "BOARD=raspi3b needs ARCH=arm64 and the default flavour" \
				"(the arm64 kernel is the one configured for the Pi: see kernel_fragments)"
		QEMU_GUEST=(qemu-system-aarch64 -M raspi3b "${QEMU_DEVICES[@]}" -no-reboot)
		CARD_DIR=$OUT/$BOARD
		if [ "$INIT" = systemd ]; then CARD_DIR+=-systemd; fi
		;;
	*) die "unknown BOARD=$BOARD" "supported: virt, raspi3b" ;;
	esac
}

# Debian's trixie-backports carries the newest kernel source; it is fetched
# into $CACHE/pkg with a temporary apt configuration (see install-deps.sh).
BACKPORTS_SUITE="trixie-backports"

# The kernel source of a KERNEL series: the Debian package that carries it,
# and the libclang its Rust support needs.
kernel_setup() {
	case "$KERNEL" in
	6.12)
		KERNEL_PKG=linux-source-6.12
		KERNEL_TARBALL=/usr/src/linux-source-6.12.tar.xz
		KERNEL_FROM=apt
		# Debian bookworm's clang; pinned because bindgen otherwise takes
		# the newest libclang installed, which must match the compiler of a
		# Clang-built kernel (FLAVOUR=debug).
		LLVM_VERSION=14
		LIBCLANG_PKG=libclang-$LLVM_VERSION-dev
		export LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VERSION/lib
		if [ "$ARCH" = arm ]; then
			die "Linux 6.12 has no Rust support on 32-bit ARM" \
				"Rust on ARMv7 exists from Linux 6.18 on: use KERNEL=7.3 for ARCH=arm"
		fi
		;;
	7.3)
		KERNEL_PKG=linux-source-7.3
		KERNEL_TARBALL=$CACHE/pkg/$KERNEL_PKG/usr/src/$KERNEL_PKG.tar.xz
		KERNEL_FROM=backports
		# Rust on 7.x needs libclang >= 17.
		LLVM_VERSION=19
		LIBCLANG_PKG=libclang-$LLVM_VERSION-dev
		export LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VERSION/lib
		;;
	6.18)
		# The kernel of Yocto wrynose and meta-raspberrypi. No distribution
		# packages its source for this machine, so the tree is the user's
		# (a single-branch linux-6.18.y clone fits); CI cannot fetch one.
		[ -n "${LINUX_SRC:-}" ] || die "KERNEL=6.18 builds a Linux 6.18 tree that you provide" \
			"run: make test KERNEL=6.18 LINUX_SRC=<directory of a linux-6.18.y source tree>" \
			"(for example: git clone --depth 1 --single-branch -b linux-6.18.y \\" \
			"   https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git)"
		[ -f "$LINUX_SRC/Makefile" ] || die "LINUX_SRC=$LINUX_SRC has no Makefile: not a kernel source tree"
		KERNEL_PKG=linux-$KERNEL
		KERNEL_FROM=dir
		LLVM_VERSION=19
		LIBCLANG_PKG=libclang-$LLVM_VERSION-dev
		export LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VERSION/lib
		;;
	*)
		die "unsupported KERNEL=$KERNEL" "supported: 6.12, 7.3; 6.18 with LINUX_SRC=<tree>"
		;;
	esac
}

# The exact version of the kernel source package in use.
kernel_pkg_version() {
	if [ "$KERNEL_FROM" = dir ]; then
		# The tree's version, and where it is: another tree is another build.
		echo "$(make -s -C "$LINUX_SRC" kernelversion 2>/dev/null) $(realpath "$LINUX_SRC")"
	elif [ "$KERNEL_FROM" = apt ]; then
		dpkg-query -W -f='${Version}' "$KERNEL_PKG" 2>/dev/null || echo none
	else
		cat "$CACHE/pkg/$KERNEL_PKG/VERSION" 2>/dev/null || echo none
	fi
}

# Whether as_root can act: root, or sudo without a password, or sudo that
# can ask on this terminal.
can_root() {
	[ "$(id -u)" -eq 0 ] && return 0
	command -v sudo >/dev/null 2>&1 || return 1
	sudo -n true 2>/dev/null || [ -t 0 ]
}

# needs_root WHY COMMAND: stops, telling the user to run COMMAND as root
# (for when as_root cannot act, or sudo refused).
needs_root() { die "$1" "run as root, then run make again:" "  $2"; }

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

# Kernel fragments of the loop: the shared driver fragment, what every guest
# needs, the board, and the debug checkers for FLAVOUR=debug. The arm64
# kernel (default flavour) also boots the Raspberry Pi 3 card and the
# systemd root filesystem: one kernel for "virt", BOARD=raspi3b and
# INIT=systemd.
kernel_fragments() {
	printf '%s\n' "$TOP/config/asyncn.cfg" "$TOP/config/qemu-common.cfg" "$TOP/config/qemu-$ARCH.cfg"
	if [ "$FLAVOUR" = debug ]; then
		printf '%s\n' "$TOP/config/debug.cfg"
	elif [ "$ARCH" = arm64 ]; then
		printf '%s\n' "$TOP/config/raspi3b.cfg" "$TOP/config/systemd.cfg"
	fi
	# The trace flavour: the default kernel and the tracer.
	if [ "$FLAVOUR" = trace ]; then printf '%s\n' "$TOP/config/trace.cfg"; fi
}

# One kernel build at a time on the machine, whichever clone starts it
# (another may be building the same kernel, or timing one): holds
# $CACHE/kernel/.lock until the calling script exits.
lock_kernel_cache() {
	mkdir -p "$CACHE/kernel"
	exec {kernel_cache_lock}>"$CACHE/kernel/.lock"
	if ! flock -n "$kernel_cache_lock"; then
		info "waiting for another kernel build in $CACHE/kernel"
		flock "$kernel_cache_lock"
	fi
}

# The fragments, each ended by a newline: the text allnoconfig reads.
kernel_fragment_text() {
	local fragment
	for fragment in $(kernel_fragments); do
		cat "$fragment" && echo
	done
}

# The options of that text, in order, without the comments: what a kernel
# build is keyed by (a comment edit rebuilds nothing). Kconfig reads only
# these two forms of line.
kernel_fragment_options() {
	kernel_fragment_text | grep -E '^[[:space:]]*(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set)' ||
		[ $? -eq 1 ]
}

# Device trees built with the kernel (paths under arch/$KARCH/boot/dts/).
kernel_dtbs() {
	if [ "$ARCH" = arm64 ] && [ -z "$FLAVOUR" ]; then echo broadcom/bcm2837-rpi-3-b.dtb; fi
}

# The debug flavour is built with Clang (Rust and KASAN need it), the same
# version as the libclang bindgen uses.
kernel_llvm() {
	if [ "$FLAVOUR" = debug ]; then echo "LLVM=-$LLVM_VERSION"; fi
}

# Where the configured and built kernel of this ARCH/KERNEL lives.
kernel_build_dir() {
	local key clang=()
	# Clang builds the debug flavour only (trace: GCC, like the default).
	[ "$FLAVOUR" = debug ] && clang=("$(clang-"$LLVM_VERSION" --version 2>/dev/null | head -n1)")
	key=$(content_key "$KERNEL_PKG $(kernel_pkg_version)" ${LIBCLANG_PATH:+"$LIBCLANG_PATH"} \
		"$ARCH" "$(rustc --version)" "$(bindgen --version 2>/dev/null || true)" \
		"$("${CROSS_COMPILE}gcc" --version 2>/dev/null | head -n1)" $(kernel_llvm) \
		"${clang[@]}" "$(kernel_fragment_options)")
	printf '%s\n' "$CACHE/kernel/$ARCH-$KERNEL${FLAVOUR:+-$FLAVOUR}-$key"
}

# make in the kernel build directory, with the loop's toolchain settings.
kmake() {
	make -C "$KSRC" O="$KBUILD" ARCH="$KARCH" CROSS_COMPILE="$CROSS_COMPILE" $(kernel_llvm) "$@"
}

# Out-of-tree Rust modules need the kernel build's crate metadata.
require_rust_metadata() {
	local crate
	for crate in libcore.rmeta libkernel.rmeta libmacros.so; do
		[ -e "$KBUILD/rust/$crate" ] || die "missing $KBUILD/rust/$crate" \
			"the kernel build has no Rust crate metadata (CONFIG_RUST off, or not fully built)." \
			"Fix: rm -rf $KBUILD && make kernel"
	done
}

kernel_paths() {
	if [ "$KERNEL_FROM" = dir ]; then
		KSRC=$(realpath "$LINUX_SRC")
	else
		# One tree per package version: a newer package is unpacked anew.
		KSRC=$CACHE/src/linux-$KERNEL-$(kernel_pkg_version | tr -c 'A-Za-z0-9.+~_\n-' _)
	fi
	KBUILD=$(kernel_build_dir)
}

require_kernel_build() {
	[ -f "$KBUILD/.asyncn-built" ] || die "no kernel build for $ARCH/$KERNEL" "run: make kernel"
}

# build_module SRC_DIR NAME [MAKE_ARGS...]: builds the out-of-tree module
# in SRC_DIR against the loop's kernel, in a copy ($OUT/NAME-build: Kbuild
# writes its objects next to the sources). The log is $OUT/NAME-build.log;
# a failure or any compiler warning stops the script with the log shown.
build_module() {
	local src=$1 name=$2
	shift 2
	MODULE_WORK=$OUT/$name-build
	local log=$MODULE_WORK.log
	mkdir -p "$MODULE_WORK"
	rsync -a --delete --exclude='*.o' --exclude='*.ko' "$src/" "$MODULE_WORK/"
	# Rebuild every time: the copy's timestamps do not track the sources.
	kmake M="$MODULE_WORK" clean >/dev/null
	if ! kmake M="$MODULE_WORK" "$@" modules >"$log" 2>&1; then
		cat "$log" >&2
		die "building ${src#"$TOP"/}/ failed (log: ${log#"$TOP"/})"
	fi
	# ASYNCN_MUTANT_WARNINGS=1: make mutants' deliberately broken drivers only.
	if [ -z "${ASYNCN_MUTANT_WARNINGS:-}" ] && grep -qE '^warning|warning:' "$log"; then
		cat "$log" >&2
		die "building ${src#"$TOP"/}/ printed warnings; it builds warning-free"
	fi
}

# run_as_kas_user COMMAND: as KAS_USER when root (bitbake refuses root).
run_as_kas_user() {
	if [ "$(id -u)" = 0 ]; then
		[ -n "${KAS_USER:-}" ] || die "bitbake refuses to run as root: set KAS_USER=<a normal user>"
		runuser -u "$KAS_USER" -- env LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 bash -c "$1"
	else
		LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 bash -c "$1"
	fi
}
