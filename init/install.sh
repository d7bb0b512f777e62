#!/bin/sh
# The one install description of the boot integration: the Yocto recipe
# asyncn-init runs it in do_install, and the loop's Debian card
# (make test INIT=systemd) runs it on its root file system.
#
#   install.sh DESTDIR sysvinit|systemd
#
# Paths, the Yocto recipe's variables (defaults: the merged-/usr paths both
# Debian bookworm and OE-core accept):
#   SYSCONFDIR       ${sysconfdir}               /etc
#   UDEVRULESDIR     ${nonarch_base_libdir}/udev/rules.d   /lib/udev/rules.d
#   SYSTEMD_UNITDIR  ${systemd_system_unitdir}   /usr/lib/systemd/system
# ENABLE=1 also enables the unit the way `systemctl enable` does (its
# [Install] WantedBy=multi-user.target); in Yocto, systemd.bbclass does that.
set -eu

DESTDIR=${1:?usage: install.sh DESTDIR sysvinit|systemd}
INIT_SYSTEM=${2:?usage: install.sh DESTDIR sysvinit|systemd}
SRC=$(dirname "$0")
SYSCONFDIR=${SYSCONFDIR:-/etc}
UDEVRULESDIR=${UDEVRULESDIR:-/lib/udev/rules.d}
SYSTEMD_UNITDIR=${SYSTEMD_UNITDIR:-/usr/lib/systemd/system}

# The init script: run by SysV init, and by the systemd unit.
install -d "$DESTDIR$SYSCONFDIR/init.d"
install -m 0755 "$SRC/asyncn" "$DESTDIR$SYSCONFDIR/init.d/asyncn"
install -d "$DESTDIR$UDEVRULESDIR"
install -m 0644 "$SRC/99-asyncn.rules" "$DESTDIR$UDEVRULESDIR/99-asyncn.rules"
case "$INIT_SYSTEM" in
sysvinit) ;;
systemd)
	install -d "$DESTDIR$SYSTEMD_UNITDIR"
	install -m 0644 "$SRC/asyncn.service" "$DESTDIR$SYSTEMD_UNITDIR/asyncn.service"
	if [ "${ENABLE:-0}" = 1 ]; then
		install -d "$DESTDIR$SYSCONFDIR/systemd/system/multi-user.target.wants"
		ln -sf "$SYSTEMD_UNITDIR/asyncn.service" \
			"$DESTDIR$SYSCONFDIR/systemd/system/multi-user.target.wants/asyncn.service"
	fi
	;;
*)
	echo "install.sh: unknown init system '$INIT_SYSTEM' (sysvinit or systemd)" >&2
	exit 2
	;;
esac
