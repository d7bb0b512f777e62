#!/bin/sh
# The one install description of the boot integration: the Yocto recipe
# asyncn-init runs it in do_install, the Buildroot package asyncn in its
# target install, and the loop's Debian card (make test INIT=systemd) on its
# root file system.
#
#   install.sh DESTDIR sysvinit|systemd|none
#
# sysvinit: the init script; systemd: the unit, which loads the module
# itself; none: neither. All: the udev rule and /etc/default/asyncn, the one
# place of the module's parameters (read by the script and the unit).
#
# Settings, as environment variables (defaults: the merged-/usr paths
# Debian bookworm, OE-core and Buildroot accept):
#   SYSCONFDIR       ${sysconfdir}               /etc
#   UDEVRULESDIR     ${nonarch_base_libdir}/udev/rules.d   /lib/udev/rules.d
#   SYSTEMD_UNITDIR  ${systemd_system_unitdir}   /usr/lib/systemd/system
#   INIT_SCRIPT      the script's name in init.d   asyncn (Buildroot: S30asyncn)
#   ASYNCN_PARAMS    module parameters, e.g. "devices=4 buffer_size=512"
# ENABLE=1 also enables the unit the way `systemctl enable` does (its
# [Install] WantedBy=multi-user.target); Yocto's systemd class and
# Buildroot do that themselves.
set -eu

DESTDIR=${1:?usage: install.sh DESTDIR sysvinit|systemd|none}
INIT_SYSTEM=${2:?usage: install.sh DESTDIR sysvinit|systemd|none}
SRC=$(dirname "$0")
SYSCONFDIR=${SYSCONFDIR:-/etc}
UDEVRULESDIR=${UDEVRULESDIR:-/lib/udev/rules.d}
SYSTEMD_UNITDIR=${SYSTEMD_UNITDIR:-/usr/lib/systemd/system}
INIT_SCRIPT=${INIT_SCRIPT:-asyncn}
ASYNCN_PARAMS=${ASYNCN_PARAMS:-}

case "$ASYNCN_PARAMS" in
*[!A-Za-z0-9_=,.\ -]*)
	echo "install.sh: ASYNCN_PARAMS may hold only name=value words: '$ASYNCN_PARAMS'" >&2
	exit 2
	;;
esac

case "$INIT_SYSTEM" in
sysvinit)
	install -d "$DESTDIR$SYSCONFDIR/init.d"
	install -m 0755 "$SRC/asyncn" "$DESTDIR$SYSCONFDIR/init.d/$INIT_SCRIPT"
	;;
systemd)
	install -d "$DESTDIR$SYSTEMD_UNITDIR"
	install -m 0644 "$SRC/asyncn.service" "$DESTDIR$SYSTEMD_UNITDIR/asyncn.service"
	if [ "${ENABLE:-0}" = 1 ]; then
		install -d "$DESTDIR$SYSCONFDIR/systemd/system/multi-user.target.wants"
		ln -sf "$SYSTEMD_UNITDIR/asyncn.service" \
			"$DESTDIR$SYSCONFDIR/systemd/system/multi-user.target.wants/asyncn.service"
	fi
	;;
none) ;;
*)
	echo "install.sh: unknown init system '$INIT_SYSTEM' (sysvinit, systemd or none)" >&2
	exit 2
	;;
esac
install -d "$DESTDIR$UDEVRULESDIR"
install -m 0644 "$SRC/99-asyncn.rules" "$DESTDIR$UDEVRULESDIR/99-asyncn.rules"
install -d "$DESTDIR$SYSCONFDIR/default"
{
	echo "# Parameters of the asyncn module, read by /etc/init.d/$INIT_SCRIPT (SysV)"
	echo "# and asyncn.service (systemd), e.g. ASYNCN_PARAMS=\"devices=4 buffer_size=512\"."
	echo "ASYNCN_PARAMS=\"$ASYNCN_PARAMS\""
} >"$DESTDIR$SYSCONFDIR/default/asyncn"
chmod 0644 "$DESTDIR$SYSCONFDIR/default/asyncn"
