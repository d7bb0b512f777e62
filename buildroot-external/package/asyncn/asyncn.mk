################################################################################
#
# asyncn
#
################################################################################

ASYNCN_VERSION = 0.1.0
# The asyncn checkout this tree lives in (its working tree, as the local
# method does); the module is built in its driver/.
ASYNCN_SITE = $(BR2_EXTERNAL_ASYNCN_PATH)/..
ASYNCN_SITE_METHOD = local
# Only what the package builds and installs: the checkout may also hold
# build output of any name (the local loop's, a Buildroot output or tree
# placed there), which must not be copied, nor Kbuild's output of a build
# in driver/ itself. rsync takes the first rule that matches, and
# Buildroot's own exclusions (version control) come after these.
ASYNCN_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude .git --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
	--exclude '*.mod' --exclude '*.mod.c' --exclude Module.symvers \
	--exclude modules.order \
	--include /COPYING --include '/driver/***' --include '/init/***' \
	--exclude '*'
ASYNCN_LICENSE = GPL-2.0-only
ASYNCN_LICENSE_FILES = COPYING
ASYNCN_MODULE_SUBDIRS = driver

# The group the udev rule and mdev line give the device nodes to.
define ASYNCN_USERS
	- - asyncn -1 - - - - asyncn device users
endef

# init/install.sh is the one install description of the boot integration
# (the Yocto recipe asyncn-init and the local loop use it too): the udev
# rule and /etc/default/asyncn with the module's parameters, and the init
# script as S30asyncn or asyncn.service.
ASYNCN_INSTALL_ENV = \
	INIT_SCRIPT=S30asyncn \
	UDEVRULESDIR=/usr/lib/udev/rules.d \
	ASYNCN_PARAMS="$(call qstrip,$(BR2_PACKAGE_ASYNCN_PARAMS))"

define ASYNCN_INSTALL_TARGET_CMDS
	$(ASYNCN_INSTALL_ENV) $(@D)/init/install.sh $(TARGET_DIR) none
endef

define ASYNCN_INSTALL_INIT_SYSV
	$(ASYNCN_INSTALL_ENV) $(@D)/init/install.sh $(TARGET_DIR) sysvinit
endef

define ASYNCN_INSTALL_INIT_SYSTEMD
	$(ASYNCN_INSTALL_ENV) $(@D)/init/install.sh $(TARGET_DIR) systemd
endef

ifeq ($(BR2_ROOTFS_DEVICE_CREATION_DYNAMIC_MDEV),y)
define ASYNCN_INSTALL_MDEV_LINE
	grep -qs '^asyncn' $(TARGET_DIR)/etc/mdev.conf || \
		grep -v '^#' $(ASYNCN_SRCDIR)/init/asyncn.mdev >> $(TARGET_DIR)/etc/mdev.conf
endef
# busybox installs /etc/mdev.conf; add the line once the target is complete.
TARGET_FINALIZE_HOOKS += ASYNCN_INSTALL_MDEV_LINE
endif

$(eval $(kernel-module))
$(eval $(generic-package))
