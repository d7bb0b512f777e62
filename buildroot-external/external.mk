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

# make source, external-deps and legal-info: the same for their rules,
# which linux.mk has expanded with the kernel's dependencies of then.
# host-asyncn-rust-src and host-rust-bindgen have no Kconfig symbol, so
# they are not in PACKAGES: the kernel's rules are the only way to them
# (and to host-clang and host-llvm through host-rust-bindgen).
linux-all-source: $(foreach p,$(ASYNCN_LINUX_RUST_DEPENDENCIES),$(p)-all-source)
linux-all-external-deps: $(foreach p,$(ASYNCN_LINUX_RUST_DEPENDENCIES),$(p)-all-external-deps)
linux-all-legal-info: $(foreach p,$(ASYNCN_LINUX_RUST_DEPENDENCIES),$(p)-all-legal-info)
$(foreach p,$(ASYNCN_LINUX_RUST_DEPENDENCIES),\
	$(eval $(call UPPERCASE,$(p))_RDEPENDENCIES += linux))

LINUX_MAKE_ENV += LIBCLANG_PATH=$(HOST_DIR)/lib
LINUX_MAKE_FLAGS += \
	RUSTC=$(HOST_DIR)/bin/rustc \
	HOSTRUSTC=$(HOST_DIR)/bin/rustc \
	BINDGEN=$(HOST_DIR)/bin/bindgen \
	RUST_LIB_SRC=$(HOST_ASYNCN_RUST_SRC_LIBRARY_DIR)

# The kernel links its Rust proc-macro crates (rust/Makefile: macros) and
# Rust host programs with rustc -Clinker=$(HOSTCC): HOSTCC must be a
# single command. linux.mk's HOSTCC carries Buildroot's host flags (and,
# with BR2_CCACHE, starts with ccache), which rustc then reads as its own
# options. Pass the flags as the kernel's HOSTCFLAGS and HOSTLDFLAGS
# instead, as OE-core's kernel.bbclass does: host tools still find
# host-openssl and host-libelf (-isystem $(HOST_DIR)/include, -L and
# -rpath $(HOST_DIR)/lib). On make's command line the last HOSTCC wins.
LINUX_MAKE_FLAGS += \
	HOSTCC="$(HOSTCC_NOCCACHE)" \
	HOSTCFLAGS="$(subst -I/,-isystem /,$(subst -I /,-isystem /,$(HOST_CFLAGS)))" \
	HOSTLDFLAGS="$(HOST_LDFLAGS)"
# kconfig is built without Buildroot's host flags, as linux.mk does with
# its HOSTCC (the ncurses of the build machine, not host-ncurses).
LINUX_KCONFIG_OPTS += HOSTCFLAGS= HOSTLDFLAGS=

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
