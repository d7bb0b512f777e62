################################################################################
#
# asyncn-rust-src
#
################################################################################

# The Rust standard library sources of the host-rustc compiler: the kernel
# compiles its own core crate from them. This is the rust-src component
# rustup installs (3 MiB), of the version of the compiler host-rustc
# provides: the prebuilt host-rust-bin (Buildroot's default) or host-rust.
ifeq ($(BR2_PACKAGE_HOST_RUST),y)
ASYNCN_RUST_SRC_VERSION = $(RUST_VERSION)
else
ASYNCN_RUST_SRC_VERSION = $(RUST_BIN_VERSION)
endif
ASYNCN_RUST_SRC_SOURCE = rust-src-$(ASYNCN_RUST_SRC_VERSION).tar.xz
ASYNCN_RUST_SRC_SITE = https://static.rust-lang.org/dist
ASYNCN_RUST_SRC_LICENSE = Apache-2.0 or MIT
ASYNCN_RUST_SRC_LICENSE_FILES = LICENSE-APACHE LICENSE-MIT

# Where rustc looks for them (its sysroot is HOST_DIR), and where the
# kernel build is pointed at (RUST_LIB_SRC, see external.mk).
HOST_ASYNCN_RUST_SRC_LIBRARY_DIR = $(HOST_DIR)/lib/rustlib/src/rust/library

define HOST_ASYNCN_RUST_SRC_INSTALL_CMDS
	rm -rf $(HOST_ASYNCN_RUST_SRC_LIBRARY_DIR)
	mkdir -p $(dir $(HOST_ASYNCN_RUST_SRC_LIBRARY_DIR))
	cp -a $(@D)/rust-src/lib/rustlib/src/rust/library $(HOST_ASYNCN_RUST_SRC_LIBRARY_DIR)
endef

$(eval $(host-generic-package))
