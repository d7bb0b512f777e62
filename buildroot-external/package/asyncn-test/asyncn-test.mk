################################################################################
#
# asyncn-test
#
################################################################################

ASYNCN_TEST_VERSION = 0.1.0
# The asyncn checkout this tree lives in; the crate is its app/.
ASYNCN_TEST_SITE = $(BR2_EXTERNAL_ASYNCN_PATH)/..
ASYNCN_TEST_SITE_METHOD = local
ASYNCN_TEST_SUBDIR = app
ASYNCN_TEST_LICENSE = GPL-2.0-only
ASYNCN_TEST_LICENSE_FILES = COPYING

# Not build output, nor the local loop's linker settings (app/.cargo).
ASYNCN_TEST_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude build --exclude target --exclude output --exclude .cargo

# Buildroot vendors the crates of downloaded cargo packages at download
# time; a local package is rsynced instead, so vendor the locked crates
# right after (this step, like a download, fetches them).
ASYNCN_TEST_EXTRACT_DEPENDENCIES = host-rustc
define ASYNCN_TEST_VENDOR_CRATES
	mkdir -p $(@D)/app/.cargo
	cd $(@D)/app && $(HOST_MAKE_ENV) CARGO_HOME=$(BR_CARGO_HOME) \
		$(HOST_DIR)/bin/cargo vendor --locked VENDOR > .cargo/config.toml
endef
ASYNCN_TEST_POST_RSYNC_HOOKS += ASYNCN_TEST_VENDOR_CRATES

$(eval $(cargo-package))
