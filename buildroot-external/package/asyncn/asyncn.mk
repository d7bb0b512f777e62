################################################################################
#
# asyncn
#
################################################################################

ASYNCN_VERSION = 0.1.0
ASYNCN_SITE = $(BR2_EXTERNAL_ASYNCN_PATH)/../driver
ASYNCN_SITE_METHOD = local
ASYNCN_LICENSE = GPL-2.0-only

# The project's init/ directory: the same files the QEMU loop and the
# Yocto layer install.
ASYNCN_INIT_DIR = $(BR2_EXTERNAL_ASYNCN_PATH)/../init

# The group the udev rule and mdev line give the device nodes to.
define ASYNCN_USERS
	- - asyncn -1 - - - - asyncn device users
endef

define ASYNCN_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0644 $(ASYNCN_INIT_DIR)/99-asyncn.rules \
		$(TARGET_DIR)/usr/lib/udev/rules.d/99-asyncn.rules
	echo 'ASYNCN_PARAMS="$(call qstrip,$(BR2_PACKAGE_ASYNCN_PARAMS))"' > \
		$(TARGET_DIR)/etc/default/asyncn
endef

ifeq ($(BR2_ROOTFS_DEVICE_CREATION_DYNAMIC_MDEV),y)
define ASYNCN_INSTALL_MDEV_LINE
	grep -qs '^asyncn' $(TARGET_DIR)/etc/mdev.conf || \
		grep -v '^#' $(ASYNCN_INIT_DIR)/asyncn.mdev >> $(TARGET_DIR)/etc/mdev.conf
endef
# busybox installs /etc/mdev.conf; add the line once the target is complete.
TARGET_FINALIZE_HOOKS += ASYNCN_INSTALL_MDEV_LINE
endif

define ASYNCN_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(ASYNCN_INIT_DIR)/asyncn \
		$(TARGET_DIR)/etc/init.d/S30asyncn
endef

define ASYNCN_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0755 $(ASYNCN_INIT_DIR)/asyncn \
		$(TARGET_DIR)/etc/init.d/asyncn
	$(INSTALL) -D -m 0644 $(ASYNCN_INIT_DIR)/asyncn.service \
		$(TARGET_DIR)/usr/lib/systemd/system/asyncn.service
endef

$(eval $(kernel-module))
$(eval $(generic-package))
