#!/usr/bin/env bash
# Install what the local loop needs, once. Safe to run again: every step
# checks first and only acts on what is missing.
#
#   Debian packages   cross compiler, kernel build tools, libclang, QEMU,
#                     the kernel source package of $KERNEL
#   kernel source     for KERNEL=7.3, linux-source-7.3 from Debian
#                     trixie-backports, downloaded into ~/.cache/asyncn/pkg (ASYNCN_CACHE) with a
#                     temporary apt configuration (the machine's is untouched)
#   rustup            the Rust toolchain pinned in rust-toolchain.toml, its
#                     rust-src, clippy and rustfmt, the static target of $ARCH
#   cargo             bindgen-cli (the kernel's Rust bindings generator)
#   busybox           the static busybox of $ARCH for the initramfs
. "$(dirname "$0")/lib.sh"
arch_setup
kernel_setup

BINDGEN_VERSION=0.73.2

# Every package the loop uses, and why. apt installs them without their
# Recommends, so nothing works by the accident of an optional package: the
# guests need none of QEMU's Recommends (no network card, so no option ROM
# from ipxe-qemu; no display; the arm boards no firmware), and the kernel
# build needs no cross libc. `make clean-room` proves this list on a minimal
# Debian for the targets of `make test` (arm64 and arm).
apt_packages=(
	make gcc libc6-dev # the loop; host tools of the kernel build, the x86_64 kernel, cargo's linker
	bc bison flex   # kernel build: timeconst, Kconfig parsers
	libelf-dev      # kernel build: objtool, resolve_btfids
	xz-utils        # unpacking the linux-source tarballs
	rsync           # build_module: the copy of driver/ and bench/ it builds in
	gzip            # the initramfs
	file            # build_app: is the app stripped, read as OE-core's QA reads it
	kmod            # build_module: modinfo reads the module's .modinfo records
	python3 python3-venv # bench report, crates.inc check, oelint-adv's venv
	"$LIBCLANG_PKG" # bindgen, for the kernel's Rust bindings
	"$QEMU_PKG"     # the guest
)
read -r -a cross_pkgs <<<"$CROSS_PKG"
apt_packages+=("${cross_pkgs[@]}")
[ "$KERNEL_FROM" = apt ] && apt_packages+=("$KERNEL_PKG")
[ "$FLAVOUR" = debug ] && apt_packages+=("clang-$LLVM_VERSION" "lld-$LLVM_VERSION" "llvm-$LLVM_VERSION")
if [ "$BOARD" = raspi3b ]; then
	apt_packages+=(
		genimage dosfstools mtools # the card: partitions, its FAT boot partition
		e2fsprogs fakeroot         # the ext4 root, owned by root without being root
		bmap-tools bzip2           # the .bmap, the compressed card, the flash
	)
fi
# The Debian root: debootstrap with the archive's keys (only a Recommends).
[ "$INIT" = systemd ] && apt_packages+=(debootstrap debian-archive-keyring)

# apt-get update fails when any one index does (a mirror mid-sync, say).
# Try a few times; then warn and go on, and let the install or download
# that follows be the judge. RUNNER is as_root for the machine's apt, or
# command for a private apt directory (which needs no root).
#   apt_update RUNNER [APT OPTIONS...]
apt_update() {
	local runner=$1 attempt
	shift
	for attempt in 1 2 3; do
		"$runner" apt-get update -qq "$@" && return 0
		[ "$attempt" -lt 3 ] && info "apt-get update failed (attempt $attempt of 3); retrying in 15 s" && sleep 15
	done
	info "apt-get update reported errors (continuing; the next step fails if a package is missing)"
}

missing=()
for pkg in "${apt_packages[@]}"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
	step "installing Debian packages: ${missing[*]}"
	root_install="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
	can_root || needs_root "installing Debian packages needs root, and sudo is not available to this user" "$root_install"
	apt_update as_root
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
		needs_root "installing Debian packages failed (or sudo refused)" "$root_install"
else
	info "Debian packages: present"
fi

command -v rustup >/dev/null 2>&1 ||
	die "rustup not found" "install rustup as the README's \"Try it on a laptop\" says, then run make again"

# The pinned toolchain (rust-toolchain.toml), its components and the
# static target of $ARCH.
if ! rustup toolchain list | grep -q "^$RUST_TOOLCHAIN-"; then
	step "rustup: installing Rust $RUST_TOOLCHAIN (pinned in rust-toolchain.toml; once)"
	rustup toolchain install "$RUST_TOOLCHAIN" --profile minimal --no-self-update \
		--component rust-src --component clippy --component rustfmt --target "$RUST_TARGET"
fi
installed_components=$(rustup component list --installed --toolchain "$RUST_TOOLCHAIN")
for component in rust-src clippy rustfmt; do
	if ! grep -q "^$component" <<<"$installed_components"; then
		step "rustup: adding $component to $RUST_TOOLCHAIN"
		rustup component add --toolchain "$RUST_TOOLCHAIN" "$component"
	fi
done
if ! rustup target list --installed --toolchain "$RUST_TOOLCHAIN" | grep -qx "$RUST_TARGET"; then
	step "rustup: adding target $RUST_TARGET to $RUST_TOOLCHAIN (static asyncn-test)"
	rustup target add --toolchain "$RUST_TOOLCHAIN" "$RUST_TARGET"
fi

if ! command -v bindgen >/dev/null 2>&1; then
	step "cargo: installing bindgen-cli $BINDGEN_VERSION (takes a few minutes, once)"
	cargo install --locked --version "$BINDGEN_VERSION" bindgen-cli
fi

if [ "$KERNEL_FROM" = backports ] && [ ! -f "$KERNEL_TARBALL" ]; then
	# As this user: a private apt directory needs no root (as root, apt
	# downloads as _apt, which must own it).
	step "downloading $KERNEL_PKG from Debian $BACKPORTS_SUITE (once; machine apt config untouched)"
	apt_dir=$CACHE/pkg/apt
	rm -rf "$apt_dir"
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
	echo "deb http://deb.debian.org/debian $BACKPORTS_SUITE main" >"$apt_dir/sources.list"
	# Only the host architecture: the source package is "all", and every
	# foreign index is one more chance to hit a mirror mid-sync, which makes
	# apt drop the whole suite from a fresh lists directory.
	host_arch=$(dpkg --print-architecture)
	apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=-"
		-o "APT::Architecture=$host_arch" -o "APT::Architectures::=$host_arch"
		-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir"
		-o "Dir::Cache::archives=$apt_dir/archives" -o "APT::Get::List-Cleanup=0")
	apt_update command "${apt_opts[@]}"
	[ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1 && chown _apt "$apt_dir"
	(cd "$apt_dir" && apt-get -qq "${apt_opts[@]}" download "$KERNEL_PKG") ||
		die "could not download $KERNEL_PKG from Debian $BACKPORTS_SUITE" \
			"the package index may be mid-sync on the mirror: run make again in a few minutes"
	deb=$(ls "$apt_dir/${KERNEL_PKG}"_*.deb)
	dpkg-deb -x "$deb" "$CACHE/pkg/$KERNEL_PKG"
	dpkg-deb -f "$deb" Version >"$CACHE/pkg/$KERNEL_PKG/VERSION"
	rm -rf "$apt_dir"
	info "$KERNEL_PKG $(cat "$CACHE/pkg/$KERNEL_PKG/VERSION")"
fi

busybox=$BUILD/busybox/$DEB_ARCH/busybox
if [ ! -x "$busybox" ]; then
	step "fetching busybox-static for $DEB_ARCH"
	if ! dpkg --print-foreign-architectures | grep -qx "$DEB_ARCH" &&
		[ "$(dpkg --print-architecture)" != "$DEB_ARCH" ]; then
		info "enabling the $DEB_ARCH package architecture (download only)"
		root_arch="dpkg --add-architecture $DEB_ARCH && apt-get update"
		can_root || needs_root "enabling the $DEB_ARCH package architecture needs root, and sudo is not available" "$root_arch"
		as_root dpkg --add-architecture "$DEB_ARCH" || needs_root "dpkg --add-architecture failed (or sudo refused)" "$root_arch"
		apt_update as_root
	fi
	tmp=$(mktemp -d)
	# apt-get download, run as root, drops privileges to _apt and writes here.
	[ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1 && chown _apt "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -qq "busybox-static:$DEB_ARCH") ||
		{ apt_update as_root && (cd "$tmp" && apt-get download -qq "busybox-static:$DEB_ARCH"); }
	dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/root"
	mkdir -p "$(dirname "$busybox")"
	install -m 0755 "$tmp/root/bin/busybox" "$busybox"
fi
info "prerequisites for ARCH=$ARCH KERNEL=$KERNEL: ready"
