SUMMARY = "Boot integration of the asyncn driver"
DESCRIPTION = "Loads the asyncn module at boot and returns once every \
               /dev/asyncnN exists (SysV init script, or a systemd unit \
               running it), and a udev rule giving the nodes group asyncn \
               and mode 0660."
HOMEPAGE = "https://github.com/asyncn/asyncn"
BUGTRACKER = "https://github.com/asyncn/asyncn/issues"
SECTION = "kernel/modules"
LICENSE = "GPL-2.0-only"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/GPL-2.0-only;md5=801f80980d171dd6425610833a22dbe6"
CVE_PRODUCT = "asyncn"

# The same files the QEMU loop boots: init/ of the asyncn repository.
FILESEXTRAPATHS:prepend := "${ASYNCN_SRCDIR}/init:"
SRC_URI = "file://install.sh \
           file://asyncn \
           file://asyncn.service \
           file://99-asyncn.rules \
           "
S = "${UNPACKDIR}"

inherit update-rc.d systemd useradd

INITSCRIPT_NAME = "asyncn"
INITSCRIPT_PARAMS = "start 20 S . stop 80 0 6 ."
SYSTEMD_SERVICE:${PN} = "asyncn.service"

# The group the udev rule gives the device nodes to.
USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system asyncn"

# init/install.sh is the one install description: the loop's Debian card
# (make test INIT=systemd) installs with it too.
do_install() {
    SYSCONFDIR=${sysconfdir} \
    UDEVRULESDIR=${nonarch_base_libdir}/udev/rules.d \
    SYSTEMD_UNITDIR=${systemd_system_unitdir} \
        sh ${S}/install.sh ${D} \
        ${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'systemd', 'sysvinit', d)}
}

FILES:${PN} += "${nonarch_base_libdir}/udev/rules.d/99-asyncn.rules"
# No dependency on the module package: without Rust in KERNEL_FEATURES the
# asyncn recipe is skipped, and this one must still build (bitbake world).
# core-image-asyncn installs the three together.
