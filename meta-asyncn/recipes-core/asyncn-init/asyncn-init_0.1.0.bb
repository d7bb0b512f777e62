SUMMARY = "Boot integration of the asyncn driver"
DESCRIPTION = "Loads the asyncn module at boot with the parameters of \
               /etc/default/asyncn: a SysV init script that returns once \
               every /dev/asyncnN exists, or a systemd unit that runs \
               modprobe. A udev rule gives the nodes group asyncn, mode \
               0660 and a systemd device unit each."
SECTION = "kernel/modules"
CVE_PRODUCT = "asyncn"

# init/ of the checkout the layer lives in; the include also sets
# LICENSE and LIC_FILES_CHKSUM (the repository's COPYING).
require include/asyncn-source.inc
# File by file (packaging-check compares the list with git ls-files init).
SRC_URI += "file://init/99-asyncn.rules;subdir=asyncn \
            file://init/asyncn;subdir=asyncn \
            file://init/asyncn.mdev;subdir=asyncn \
            file://init/asyncn.service;subdir=asyncn \
            file://init/install.sh;subdir=asyncn \
            "
S = "${ASYNCN_TOPDIR}/init"

inherit allarch update-rc.d systemd useradd

INITSCRIPT_NAME = "asyncn"
INITSCRIPT_PARAMS = "start 20 S . stop 80 0 6 ."
SYSTEMD_SERVICE:${PN} = "asyncn.service"

# The group the udev rule gives the device nodes to.
USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system asyncn"

# The module's parameters, the one place of them: written to
# /etc/default/asyncn, which the init script and the unit read. In
# local.conf, e.g.
#   ASYNCN_MODULE_PARAMS = "devices=4 buffer_size=512"
ASYNCN_MODULE_PARAMS ??= ""

# init/install.sh is the one install description: Buildroot's asyncn
# package and the loop's Debian card (make test INIT=systemd) install with
# it too. The udev rule and /etc/default/asyncn always; the script and the
# unit for each init system the distro has (OE's classes drop what the
# image's init manager does not use).
ASYNCN_INIT_SYSTEMS = "${@bb.utils.filter('DISTRO_FEATURES', 'sysvinit systemd', d)}"
do_install() {
    for init_system in none ${ASYNCN_INIT_SYSTEMS}; do
        SYSCONFDIR=${sysconfdir} \
        UDEVRULESDIR=${nonarch_base_libdir}/udev/rules.d \
        SYSTEMD_UNITDIR=${systemd_system_unitdir} \
        ASYNCN_PARAMS="${ASYNCN_MODULE_PARAMS}" \
            sh ${S}/install.sh ${D} $init_system
    done
}

FILES:${PN} += "${nonarch_base_libdir}/udev/rules.d/99-asyncn.rules"
CONFFILES:${PN} = "${sysconfdir}/default/asyncn"

# What the script and the unit run: modprobe/insmod/rmmod (kmod), sh, awk,
# mknod, sleep (base utilities); with systemd, udevadm.
RDEPENDS:${PN} = "${VIRTUAL-RUNTIME_base-utils} kmod"
RDEPENDS:${PN} += "${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'udev', '', d)}"
# No dependency on the module package: without Rust in KERNEL_FEATURES the
# asyncn recipe is skipped, and this one must still build (bitbake world).
# core-image-asyncn installs the three together.
