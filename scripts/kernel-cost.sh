#!/usr/bin/env bash
# make kernel-cost: where a kernel build's time goes. Builds ARCH/KERNEL
# (default arm64/6.12) from allnoconfig several times, each time with one
# more group of options, in scratch build directories (removed after), with
# the jobs `make kernel` uses, and prints a table: each build's seconds,
# what its group added, and how many objects it compiled.
#
# The groups, cumulative, in this order:
#   board      config/qemu-common.cfg + config/qemu-$ARCH.cfg, without Rust
#   asyncn     + config/asyncn.cfg (Rust: core, the kernel crate, bindings;
#              modules, which are built from here on; devtmpfs)
#   raspi3b    + config/raspi3b.cfg (arm64: the Pi 3 card's SoC, SD, ext4)
#   net        + the networking of config/systemd.cfg (NET, UNIX, NET_NS)
#   bpf        + its cgroups and BPF (CGROUPS, CGROUP_BPF, BPF_SYSCALL)
#   systemd    + the rest of config/systemd.cfg
# The last build has every option of the arm64 kernel of `make test`. Every
# build includes the device trees of `make kernel` (on arm64, the Pi's).
# One build per group: differences of a few seconds are within the noise,
# and what a group adds depends on the groups before it.
[ -z "${FLAVOUR:-}" ] || { echo "kernel-cost: the default flavour only (FLAVOUR=$FLAVOUR given)" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
arch_setup
KERNEL=${KERNEL:-$DEFAULT_KERNEL}
kernel_setup
kernel_paths
[ -f "$KSRC/Makefile" ] || die "no kernel source in $KSRC" "run: make kernel-cost (it unpacks the source first)"

# Alone on the machine's cores: no kernel build of another clone meanwhile.
lock_kernel_cache
scratch=$(mktemp -d "$CACHE/cost.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# The option groups of config/systemd.cfg, by name; "systemd" takes the rest.
net_options='CONFIG_NET=|CONFIG_UNIX=|CONFIG_NET_NS='
bpf_options='CONFIG_CGROUPS=|CONFIG_CGROUP_BPF=|CONFIG_BPF_SYSCALL='
grep -E "^($net_options)" "$TOP/config/systemd.cfg" >"$scratch/net.cfg"
grep -E "^($bpf_options)" "$TOP/config/systemd.cfg" >"$scratch/bpf.cfg"
grep -vE "^($net_options|$bpf_options)" "$TOP/config/systemd.cfg" >"$scratch/systemd.cfg"

groups=(board asyncn)
[ "$ARCH" = arm64 ] && groups+=(raspi3b net bpf systemd)
fragments_of() {
	case "$1" in
	board) printf '%s\n' "$TOP/config/qemu-common.cfg" "$TOP/config/qemu-$ARCH.cfg" ;;
	asyncn) printf '%s\n' "$TOP/config/asyncn.cfg" ;;
	raspi3b) printf '%s\n' "$TOP/config/raspi3b.cfg" ;;
	net | bpf | systemd) printf '%s\n' "$scratch/$1.cfg" ;;
	esac
}

table=()
fragments=()
previous=
for group in "${groups[@]}"; do
	mapfile -t -O "${#fragments[@]}" fragments < <(fragments_of "$group")
	KBUILD=$scratch/build-$group
	mkdir -p "$KBUILD"
	cat "${fragments[@]}" >"$KBUILD/fragments.config"
	step "kernel-cost: Linux $KERNEL for $ARCH, up to \"$group\" ($(nproc) jobs)"
	kmake -s KCONFIG_ALLCONFIG="$KBUILD/fragments.config" allnoconfig
	if [ "$group" != board ] && ! grep -qx 'CONFIG_RUST=y' "$KBUILD/.config"; then
		die "CONFIG_RUST=y did not survive the configuration of \"$group\"" \
			"make rustavailable says: $(kmake -s rustavailable 2>&1 || true)"
	fi
	# Without modules (the board group), the image and device trees only.
	targets=("$(basename "$KIMAGE")" $(kernel_dtbs))
	grep -qx 'CONFIG_MODULES=y' "$KBUILD/.config" && targets+=(modules modules_prepare)
	start=$(date +%s.%N)
	kmake -j"$(nproc)" -s "${targets[@]}" >"$KBUILD/build.log" 2>&1 ||
		{ tail -n 20 "$KBUILD/build.log" >&2; die "the build of \"$group\" failed"; }
	# Whole seconds, rounded once (awk, whatever the locale's decimal mark).
	seconds=$(LC_ALL=C awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { printf "%d", a - b + 0.5 }')
	objects=$(find "$KBUILD" -name '*.o' | wc -l)
	added=-
	[ -n "$previous" ] && added=$(printf '%+d' $((seconds - previous)))
	table+=("$(printf '%-8s %7d %7s %8d' "$group" "$seconds" "$added" "$objects")")
	info "$group: $seconds s, $objects objects"
	previous=$seconds
	rm -rf "$KBUILD"
done

echo "kernel-cost: Linux $KERNEL ($(kernel_pkg_version)) for $ARCH, allnoconfig + groups, $(nproc) jobs"
printf '%-8s %7s %7s %8s\n' group seconds added objects
printf '%s\n' "${table[@]}"
