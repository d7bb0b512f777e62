#!/usr/bin/env bash
# Assemble build/<arch>/initramfs.cpio.gz: busybox, the guest /init, the
# project's init script, the module and asyncn-test. Uses the kernel's own
# gen_init_cpio, so device nodes need no root. ASYNCN_INIT_DIR: where the
# init script and mdev configuration come from (default init/; make
# mutants gives a patched copy).
. "$(dirname "$0")/lib.sh"
arch_setup
kernel_setup
kernel_paths

busybox=$BUILD/busybox/$DEB_ARCH/busybox
for f in "$busybox" "$OUT/asyncn.ko" "$OUT/asyncn-test" "$KBUILD/usr/gen_init_cpio"; do
	[ -e "$f" ] || die "missing $f" "run: make deps kernel module app"
done
release=$(cat "$KBUILD/include/config/kernel.release")
init_dir=${ASYNCN_INIT_DIR:-$TOP/init}

step "assembling the initramfs"
# The group the udev/mdev rule gives the nodes to.
printf 'root:x:0:0:root:/:/bin/sh\n' >"$OUT/passwd"
printf 'root:x:0:\nasyncn:x:990:\n' >"$OUT/group"
spec=$OUT/initramfs.list
{
	for dir in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /etc /etc/init.d /etc/default \
		/lib /lib/modules "/lib/modules/$release" "/lib/modules/$release/updates"; do
		echo "dir $dir 0755 0 0"
	done
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "file /bin/busybox $busybox 0755 0 0"
	echo "slink /bin/sh busybox 0777 0 0"
	echo "file /init $TOP/scripts/guest-init 0755 0 0"
	echo "file /etc/init.d/asyncn $init_dir/asyncn 0755 0 0"
	echo "file /etc/mdev.conf $init_dir/asyncn.mdev 0644 0 0"
	echo "file /etc/passwd $OUT/passwd 0644 0 0"
	echo "file /etc/group $OUT/group 0644 0 0"
	echo "file /lib/modules/$release/updates/asyncn.ko $OUT/asyncn.ko 0644 0 0"
	echo "file /usr/bin/asyncn-test $OUT/asyncn-test 0755 0 0"
	# The C baseline of `make bench`, when built.
	if [ -f "$OUT/asyncn_c.ko" ]; then
		echo "file /lib/modules/$release/updates/asyncn_c.ko $OUT/asyncn_c.ko 0644 0 0"
	fi
} >"$spec"
"$KBUILD/usr/gen_init_cpio" "$spec" | gzip -9n >"$OUT/initramfs.cpio.gz"
info "initramfs: ${OUT#"$TOP"/}/initramfs.cpio.gz ($(du -k "$OUT/initramfs.cpio.gz" | cut -f1) KiB)"
