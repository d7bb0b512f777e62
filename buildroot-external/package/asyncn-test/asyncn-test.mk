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

# Only the crate (its Cargo.toml names ../README.md) and the licence: the
# checkout may also hold build output of any name (the local loop's, a
# Buildroot output or tree placed there), which must not be copied; nor
# the crate's own target/ or the local loop's linker settings (app/.cargo).
ASYNCN_TEST_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude .git --exclude /app/target --exclude /app/.cargo \
	--include /COPYING --include /README.md --include '/app/***' \
	--exclude '*'

# Buildroot vendors the crates of downloaded cargo packages at download
# time; a local package is rsynced instead. Its crates come from
# host-asyncn-test-crates (each downloaded and checksummed, so `make
# source` fetches them), whose vendor directory cargo uses here, offline.
ASYNCN_TEST_DEPENDENCIES = host-asyncn-test-crates
define ASYNCN_TEST_USE_VENDORED_CRATES
	mkdir -p $(@D)/app/.cargo
	printf '[source.crates-io]\nreplace-with = "vendored-sources"\n\n[source.vendored-sources]\ndirectory = "%s"\n' \
		$(HOST_ASYNCN_TEST_CRATES_VENDOR_DIR) > $(@D)/app/.cargo/config.toml
endef
ASYNCN_TEST_PRE_CONFIGURE_HOOKS += ASYNCN_TEST_USE_VENDORED_CRATES

# The tokio case needs the async runtime, an opt-in cargo feature. The
# install step runs cargo install, which builds again with its own options:
# both get the feature (asyncn-test --version names it).
ASYNCN_TEST_CARGO_BUILD_OPTS = --features tokio
ASYNCN_TEST_CARGO_INSTALL_OPTS = --features tokio

$(eval $(cargo-package))
