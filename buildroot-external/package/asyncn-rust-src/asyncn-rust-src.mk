################################################################################
#
# asyncn-rust-src
#
################################################################################

# The Rust standard library sources of the host-rustc version: the kernel
# compiles its own core crate from them (what rustup's rust-src component
# provides). They come from the same tarball package/rust builds from.
ASYNCN_RUST_SRC_VERSION = $(RUST_VERSION)
ASYNCN_RUST_SRC_SOURCE = rustc-$(ASYNCN_RUST_SRC_VERSION)-src.tar.xz
ASYNCN_RUST_SRC_SITE = $(RUST_SITE)
ASYNCN_RUST_SRC_LICENSE = Apache-2.0 or MIT
ASYNCN_RUST_SRC_LICENSE_FILES = LICENSE-APACHE LICENSE-MIT

# Where rustc looks for them (its sysroot is HOST_DIR), and where the
# kernel build is pointed at (RUST_LIB_SRC, see external.mk).
HOST_ASYNCN_RUST_SRC_LIBRARY_DIR = $(HOST_DIR)/lib/rustlib/src/rust/library

define HOST_ASYNCN_RUST_SRC_INSTALL_CMDS
	rm -rf $(HOST_ASYNCN_RUST_SRC_LIBRARY_DIR)
	mkdir -p $(dir $(HOST_ASYNCN_RUST_SRC_LIBRARY_DIR))
	cp -a $(@D)/library $(HOST_ASYNCN_RUST_SRC_LIBRARY_DIR)
endef

$(eval $(host-generic-package))
