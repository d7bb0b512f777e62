include $(sort $(wildcard $(BR2_EXTERNAL_ASYNCN_PATH)/package/*/*.mk))

################################################################################
#
# Rust in the Linux kernel
#
# Buildroot has no option for it: when an asyncn package needs it
# (BR2_PACKAGE_ASYNCN_LINUX_RUST), the kernel build gets rustc and cargo
# (host-rustc), the standard library sources the kernel compiles its own
# core crate from (host-asyncn-rust-src), bindgen and libclang
# (host-rust-bindgen, which brings host-clang). The project's kernel fragment
# (config/asyncn.cfg, set in the defconfigs) asks for CONFIG_RUST=y, and a
# post-configure hook stops the build if it did not survive.
#
################################################################################

ifeq ($(BR2_PACKAGE_ASYNCN_LINUX_RUST),y)

ASYNCN_LINUX_RUST_DEPENDENCIES = host-rustc host-asyncn-rust-src host-rust-bindgen

# What show-info and legal-info report as the kernel's dependencies.
LINUX_DEPENDENCIES += $(ASYNCN_LINUX_RUST_DEPENDENCIES)
LINUX_KCONFIG_DEPENDENCIES += $(ASYNCN_LINUX_RUST_DEPENDENCIES)

# linux.mk's rules were expanded before this file is read, so the additions
# above do not order the build: these make the tools real prerequisites of
# the kernel configuration (Kconfig asks rustc and bindgen whether Rust is
# available) and of the configure step.
$(LINUX_DIR)/$(LINUX_KCONFIG_STAMP_DOTCONFIG): | $(ASYNCN_LINUX_RUST_DEPENDENCIES)
$(LINUX_TARGET_CONFIGURE): | $(ASYNCN_LINUX_RUST_DEPENDENCIES)

LINUX_MAKE_ENV += LIBCLANG_PATH=$(HOST_DIR)/lib
LINUX_MAKE_FLAGS += \
	RUSTC=$(HOST_DIR)/bin/rustc \
	HOSTRUSTC=$(HOST_DIR)/bin/rustc \
	BINDGEN=$(HOST_DIR)/bin/bindgen \
	RUST_LIB_SRC=$(HOST_ASYNCN_RUST_SRC_LIBRARY_DIR)

# The silent drop: Kconfig turns CONFIG_RUST off, without an error, when the
# toolchain or the architecture does not fit.
define ASYNCN_LINUX_CHECK_RUST
	if ! grep -qx 'CONFIG_RUST=y' $(LINUX_DIR)/.config; then \
		echo "asyncn: CONFIG_RUST=y did not survive the kernel configuration" \
			"(HAVE_RUST: $$(grep -c '^CONFIG_HAVE_RUST=y' $(LINUX_DIR)/.config)," \
			"RUST_IS_AVAILABLE: $$(grep -c '^CONFIG_RUST_IS_AVAILABLE=y' $(LINUX_DIR)/.config))." \
			"make -C $(LINUX_DIR) rustavailable says:"; \
		$(LINUX_MAKE_ENV) $(BR2_MAKE) $(LINUX_MAKE_FLAGS) -C $(LINUX_DIR) rustavailable; \
		exit 1; \
	fi
endef
LINUX_POST_CONFIGURE_HOOKS += ASYNCN_LINUX_CHECK_RUST

endif
