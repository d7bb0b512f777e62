SUMMARY = "asyncn: signal-driven asynchronous notification driver, in Rust"
DESCRIPTION = "Character devices /dev/asyncnN: a write replaces a fixed-size \
               message under a mutex and notifies every O_ASYNC subscriber \
               with SIGIO; readers also get poll/epoll readiness and blocking \
               reads. Built from the asyncn repository's own driver/ sources."
HOMEPAGE = "https://github.com/asyncn/asyncn"
BUGTRACKER = "https://github.com/asyncn/asyncn/issues"
SECTION = "kernel/modules"
LICENSE = "GPL-2.0-only"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/GPL-2.0-only;md5=801f80980d171dd6425610833a22dbe6"
CVE_PRODUCT = "asyncn"

# One source of truth: the driver/ directory of the repository this layer
# lives in (ASYNCN_SRCDIR, set in conf/layer.conf).
FILESEXTRAPATHS:prepend := "${ASYNCN_SRCDIR}:"
SRC_URI = "file://driver/"
S = "${UNPACKDIR}/driver"

inherit module-rust

# Loaded at boot; parameters from local.conf, e.g.
#   ASYNCN_MODULE_PARAMS = "devices=4 buffer_size=512"
ASYNCN_MODULE_PARAMS ??= ""
KERNEL_MODULE_AUTOLOAD += "asyncn"
KERNEL_MODULE_PROBECONF += "asyncn"
# module_conf_<module> is kernel-module-split's modprobe.d options variable.
# nooelint: oelint.vars.mispell.unknown
module_conf_asyncn = "options asyncn ${ASYNCN_MODULE_PARAMS}"

RRECOMMENDS:${PN} += "asyncn-init"
RPROVIDES:${PN} += "kernel-module-asyncn"

# Refuse up front what would otherwise fail deep inside Kbuild: Rust on
# 32-bit ARM needs Linux 6.18+ (module-rust already skips the recipe when
# KERNEL_FEATURES lacks "rust"). A recipe can only be skipped from python.
# nooelint: oelint.task.noanonpython
python __anonymous() {
    if d.getVar('TARGET_ARCH') != 'arm':
        return
    kernel = d.getVar('PREFERRED_PROVIDER_virtual/kernel') or ''
    version = d.getVar('PREFERRED_VERSION_' + kernel) or ''
    parts = version.split('.')
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].rstrip('%').isdigit():
        if (int(parts[0]), int(parts[1].rstrip('%'))) < (6, 18):
            raise bb.parse.SkipRecipe(
                "asyncn: Rust on 32-bit ARM needs Linux 6.18 or later, but %s %s is "
                "selected; set PREFERRED_VERSION_%s = \"6.18%%\" (or use a 64-bit machine)"
                % (kernel, version, kernel))
}

do_configure:prepend() {
    config="${STAGING_KERNEL_BUILDDIR}/.config"
    if ! grep -q '^CONFIG_RUST=y' "$config"; then
        bbfatal "asyncn: the kernel (${PREFERRED_PROVIDER_virtual/kernel}) was built without CONFIG_RUST=y. \
Enable Rust in the kernel: KERNEL_FEATURES:append = \" rust\" in local.conf, and keep the \
asyncn kernel fragment (meta-asyncn adds it to linux-yocto and linux-raspberrypi)."
    fi
    if [ ! -e "${STAGING_KERNEL_BUILDDIR}/rust/libkernel.rmeta" ]; then
        bbfatal "asyncn: ${STAGING_KERNEL_BUILDDIR} has no rust/libkernel.rmeta; the kernel's Rust crates were not built"
    fi
}
