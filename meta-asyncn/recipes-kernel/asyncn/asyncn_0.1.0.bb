SUMMARY = "asyncn: signal-driven asynchronous notification driver, in Rust"
DESCRIPTION = "Character devices /dev/asyncnN: a write replaces a fixed-size \
               message under a mutex and notifies every O_ASYNC subscriber \
               with SIGIO; readers also get poll/epoll readiness and blocking \
               reads. Built from the asyncn repository's own driver/ sources."
SECTION = "kernel/modules"
CVE_PRODUCT = "asyncn"

# driver/ of the checkout the layer lives in; the include also sets
# LICENSE and LIC_FILES_CHKSUM (the repository's COPYING).
require include/asyncn-source.inc
# File by file: a build in the checkout's driver/ leaves Kbuild's output
# there (packaging-check compares the list with git ls-files driver).
SRC_URI += "file://driver/Kbuild;subdir=asyncn \
            file://driver/Makefile;subdir=asyncn \
            file://driver/asyncn.rs;subdir=asyncn \
            file://driver/chrdev.rs;subdir=asyncn \
            file://driver/compat/bug.rs;subdir=asyncn \
            file://driver/compat/cdev.rs;subdir=asyncn \
            file://driver/compat/init.rs;subdir=asyncn \
            file://driver/compat/iov.rs;subdir=asyncn \
            file://driver/compat/mod.rs;subdir=asyncn \
            file://driver/compat/module.rs;subdir=asyncn \
            file://driver/compat/poll.rs;subdir=asyncn \
            file://driver/compat/str.rs;subdir=asyncn \
            file://driver/compat/sync.rs;subdir=asyncn \
            file://driver/message.rs;subdir=asyncn \
            file://driver/params.rs;subdir=asyncn \
            file://driver/sync.rs;subdir=asyncn \
            file://driver/trace.rs;subdir=asyncn \
            "
S = "${ASYNCN_TOPDIR}/driver"

inherit module-rust

# Loaded at boot by asyncn-init (its init script or asyncn.service), with
# the parameters of /etc/default/asyncn (ASYNCN_MODULE_PARAMS, see
# asyncn-init); no KERNEL_MODULE_AUTOLOAD, which would load it a second
# way, without them.
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
                "selected. Use the machine's 64-bit variant (raspberrypi4: raspberrypi4-64; "
                "meta-raspberrypi's 6.18 has no 32-bit Pi 4 kernel), or a 6.18 kernel "
                "where the machine has one" % (kernel, version))
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
