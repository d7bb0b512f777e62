#!/usr/bin/env bash
# The root file system of INIT=systemd: Debian bookworm arm64 (minbase with
# systemd, udev and kmod), plus the driver, asyncn-test and the boot
# integration installed by init/install.sh (the Yocto recipe's do_install).
#
#   build-debian-root.sh DIR    (run by build-card.sh; needs root)
#
# The bootstrap is cached outside the clone ($ASYNCN_CACHE, default
# ~/.cache/asyncn): debootstrap's first stage runs on the host, its second
# stage inside the guest (the Pi's kernel on QEMU raspi3b runs the arm64
# package scripts; about 8 minutes under emulation, once), which then packs
# the finished root into a tarball the host takes off the card.
. "$(dirname "$0")/lib.sh"
arch_setup
kernel_setup
kernel_paths
dest=${1:?usage: build-debian-root.sh DIR}

DEBIAN_SUITE=bookworm
DEBIAN_PACKAGES=systemd,systemd-sysv,udev,kmod
# The Debian mirror of this machine's apt sources, or Debian's own.
mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p; s/^deb \(http[^ ]*debian\)\/* .*/\1/p' \
	/etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

[ "$(id -u)" -eq 0 ] || needs_root "the Debian root file system needs root (debootstrap, file owners)" \
	"make test INIT=systemd"

cache=$CACHE/debian
# Bump BOOTSTRAP_VERSION when the bootstrap below changes what it makes.
BOOTSTRAP_VERSION=1
base=$cache/$DEBIAN_SUITE-$DEB_ARCH-$(content_key "$DEBIAN_SUITE $DEB_ARCH minbase $DEBIAN_PACKAGES $BOOTSTRAP_VERSION").tar
busybox=$BUILD/busybox/$DEB_ARCH/busybox

bootstrap() {
	local work=$cache/work
	rm -rf "$work"
	mkdir -p "$work"
	step "debootstrap, first stage: Debian $DEBIAN_SUITE $DEB_ARCH minbase with $DEBIAN_PACKAGES (once; cached in $cache)"
	info "mirror: $mirror"
	debootstrap --foreign --arch="$DEB_ARCH" --variant=minbase --include="$DEBIAN_PACKAGES" \
		"$DEBIAN_SUITE" "$work/root" "$mirror" >"$work/first-stage.log" 2>&1 ||
		{ tail -n 20 "$work/first-stage.log" >&2 && die "debootstrap's first stage failed (log: $work/first-stage.log)"; }
	# In a container, debootstrap makes /proc a link to the host's /proc.
	if [ -L "$work/root/proc" ]; then rm "$work/root/proc" && mkdir "$work/root/proc"; fi
	# busybox runs the applet its file is named after.
	install -D -m 0755 "$busybox" "$work/root/asyncn-bootstrap/busybox"
	cat >"$work/root/asyncn-bootstrap/second-stage" <<-'EOF'
		#!/asyncn-bootstrap/busybox sh
		# PID 1 of the bootstrap boot: debootstrap's second stage, then the
		# finished root packed into /asyncn-base.tar for the host.
		bb=/asyncn-bootstrap/busybox
		$bb mount -t proc proc /proc
		$bb mount -t sysfs sysfs /sys
		$bb grep -q '^devtmpfs /dev ' /proc/mounts || $bb mount -t devtmpfs devtmpfs /dev
		if /debootstrap/debootstrap --second-stage &&
			tar --numeric-owner --one-file-system -cpf /asyncn-base.tar -C / \
				--exclude=./asyncn-base.tar --exclude=./asyncn-bootstrap .; then
			echo "ASYNCN-SECOND-STAGE: OK"
		else
			echo "ASYNCN-SECOND-STAGE: FAILED"
			cat /debootstrap/debootstrap.log 2>/dev/null | tail -n 30
		fi
		$bb sync
		$bb reboot -f
	EOF
	chmod 0755 "$work/root/asyncn-bootstrap/second-stage"
	# The root and room for its tarball; the card's size is a power of two.
	mkfs.ext4 -q -F -L rootfs -d "$work/root" "$work/bootstrap.ext4" 1G >/dev/null
	rm -rf "$work/root"

	step "debootstrap, second stage inside the guest (QEMU raspi3b; about 8 minutes, once)"
	local log=$work/second-stage.log
	# The card is the whole device here: the bare file system, no partitions.
	local status=0
	console_input_open
	timeout --foreground 1800 "${QEMU_GUEST[@]}" \
		-kernel "$OUT/Image" -dtb "$OUT/$CARD_DTB" -drive "if=sd,format=raw,file=$work/bootstrap.ext4" \
		-append "console=ttyAMA0 root=/dev/mmcblk0 rootwait rw init=/asyncn-bootstrap/second-stage panic=-1 loglevel=5" \
		<&"$CONSOLE_FD" >"$log" 2>&1 || status=$?
	console_input_close
	grep -q '^ASYNCN-SECOND-STAGE: OK' <(tr -d '\r' <"$log") ||
		{ tail -n 40 "$log" >&2 && die "debootstrap's second stage failed in the guest (QEMU status $status, console: $log)"; }
	debugfs -R "dump /asyncn-base.tar $base.tmp" "$work/bootstrap.ext4" >"$work/debugfs.log" 2>&1 &&
		tar -tf "$base.tmp" ./usr/lib/systemd/systemd >/dev/null ||
		die "could not take the bootstrapped root off the card, or it has no systemd" "$(cat "$work/debugfs.log")"
	mv "$base.tmp" "$base"
	rm -rf "$work"
	info "Debian root cached: $base ($(du -m "$base" | cut -f1) MiB)"
}

[ -f "$base" ] || bootstrap
step "Debian root: unpacking ${base##*/}, installing asyncn"
rm -rf "$dest"
mkdir -p "$dest"
tar --numeric-owner -xpf "$base" -C "$dest"

release=$(cat "$KBUILD/include/config/kernel.release")
# What core-image-asyncn installs: the boot integration (asyncn-init's
# do_install, enabled as systemd.bbclass enables it, and its group), the
# module and the app.
# Several devices, as on the other guests.
ENABLE=1 ASYNCN_PARAMS="devices=4" "$TOP/init/install.sh" "$dest" systemd
groupadd --prefix "$dest" --system asyncn
install -D -m 0644 "$OUT/asyncn.ko" "$dest/lib/modules/$release/updates/asyncn.ko"
# As an image build does, so that modprobe finds it (the init script's
# first choice).
depmod -b "$dest" "$release"
install -D -m 0755 "$OUT/asyncn-test" "$dest/usr/bin/asyncn-test"
# The loop's checks: a member of group asyncn and a user outside it, and the
# unit that runs scripts/systemd-check once the system is up.
useradd --prefix "$dest" --create-home --groups asyncn --shell /bin/sh member
useradd --prefix "$dest" --create-home --shell /bin/sh outsider
install -D -m 0755 "$TOP/scripts/systemd-check" "$dest/usr/libexec/asyncn/systemd-check"
install -D -m 0644 "$TOP/scripts/card/asyncn-check.service" "$dest/etc/systemd/system/asyncn-check.service"
ln -sf /etc/systemd/system/asyncn-check.service "$dest/etc/systemd/system/multi-user.target.wants/asyncn-check.service"
echo asyncn-pi >"$dest/etc/hostname"
# The card's root, mounted read-write once systemd is up (no fsck: the card
# is written fresh for every boot).
printf '/dev/mmcblk0p2 / ext4 rw,errors=remount-ro 0 0\n' >"$dest/etc/fstab"
