import os

import infra.basetest

# This file is buildroot-external/support/testing/tests/package/test_asyncn.py.
BR2_EXTERNAL_ASYNCN = os.path.realpath(
    os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


class TestAsyncn(infra.basetest.BRTest):
    """asyncn_qemu_aarch64_virt_defconfig, less host QEMU (the test uses
    the build machine's) and DHCP (the guest has no network card): the
    asyncn module, loaded at boot, and asyncn-test on QEMU's virt."""
    br2_external = [BR2_EXTERNAL_ASYNCN]
    config = \
        """
        BR2_aarch64=y
        BR2_PACKAGE_HOST_LINUX_HEADERS_CUSTOM_6_18=y
        BR2_GLOBAL_PATCH_DIR="board/qemu/patches"
        BR2_DOWNLOAD_FORCE_CHECK_HASHES=y
        BR2_ROOTFS_DEVICE_CREATION_DYNAMIC_MDEV=y
        BR2_LINUX_KERNEL=y
        BR2_LINUX_KERNEL_CUSTOM_VERSION=y
        BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE="6.18.7"
        BR2_LINUX_KERNEL_USE_CUSTOM_CONFIG=y
        BR2_LINUX_KERNEL_CUSTOM_CONFIG_FILE="board/qemu/aarch64-virt/linux.config"
        BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES="$(BR2_EXTERNAL_ASYNCN_PATH)/../config/asyncn.cfg"
        BR2_LINUX_KERNEL_NEEDS_HOST_OPENSSL=y
        BR2_TARGET_ROOTFS_EXT2=y
        BR2_TARGET_ROOTFS_EXT2_4=y
        # BR2_TARGET_ROOTFS_TAR is not set
        BR2_PACKAGE_ASYNCN=y
        BR2_PACKAGE_ASYNCN_TEST=y
        """

    def test_run(self):
        kernel = os.path.join(self.builddir, "images", "Image")
        disk = os.path.join(self.builddir, "images", "rootfs.ext4")
        self.emulator.boot(arch="aarch64",
                           kernel=kernel,
                           kernel_cmdline=["root=/dev/vda", "rootwait",
                                           "console=ttyAMA0"],
                           options=["-M", "virt", "-cpu", "cortex-a57",
                                    "-smp", "2", "-m", "512M", "-drive",
                                    f"file={disk},if=virtio,format=raw"])
        self.emulator.login()

        # S30asyncn loaded the module and mdev made the device nodes.
        self.assertRunOk("grep -q '^asyncn ' /proc/modules")
        self.assertRunOk("test -c /dev/asyncn0")
        # The tokio case is built in.
        self.assertRunOk("asyncn-test --version | grep -qF 'features: tokio'")
        # The SIGIO scenario, then every case.
        self.assertRunOk("asyncn-test", timeout=120)
        self.assertRunOk("asyncn-test all", timeout=900)
