#!/usr/bin/env bash
# Replays, on this machine and offline, the commands a Buildroot build of
# buildroot-external runs for the asyncn kernel and packages. A real build
# cannot run here (it downloads its sources), so the commands are taken
# from Buildroot itself (make printvars, QUOTED_VARS=YES) and run as they
# are, only the toolchain paths replaced by this machine's (the table is
# printed). For each defconfig:
#   kernel    the kernel's Rust preparation (rustavailable, then prepare:
#             rust/ with the proc-macro crate macros, linked with
#             -Clinker=$HOSTCC) with LINUX_MAKE_ENV and LINUX_MAKE_FLAGS,
#             on a copy of the loop's arm64/6.12 kernel build (only what
#             the flags change is rebuilt); then the asyncn module build
#             and install of the kernel-module infrastructure
#             (pkg-kernel-module.mk), on asyncn's rsync of the checkout.
#   packages  asyncn-test: the rsync of the local site method, the crates
#             of host-asyncn-test-crates unpacked as its .mk does (from
#             cargo's cache, checked against the .hash file), the vendoring
#             hook, then the build and install commands of cargo-package
#             (pkg-cargo.mk). The installed binary's --version must name
#             the tokio feature.
#   deps      make external-deps must list rust-src, rust-bindgen, clang
#             and llvm (make source and legal-info walk the same rules).
# Commands identical to an earlier defconfig's (output paths aside) are
# not run again. Every step runs even after a failure; the summary says
# what failed, and the script then fails.
#
# Usage: BUILDROOT_DIR=<Buildroot 2026.02.x tree> scripts/replay-buildroot.sh [OUT]
#   OUT                Buildroot output dirs and the replay's scratch files
#                      (default ~/asyncn-br-replay; never inside the checkout)
#   BR2_EXTERNAL_DIR   the tree to replay (default: this checkout's
#                      buildroot-external)
#   DEFCONFIGS         default: the three of buildroot-external/configs
# Needs the loop's arm64/6.12 kernel build (make kernel) and its toolchain.
. "$(dirname "$0")/lib.sh"

[ -n "${BUILDROOT_DIR:-}" ] && [ -f "$BUILDROOT_DIR/utils/check-package" ] ||
	die "BUILDROOT_DIR=${BUILDROOT_DIR:-} is not a Buildroot tree" \
		"run: BUILDROOT_DIR=<Buildroot 2026.02.x tree> $0 [OUT]"
BUILDROOT_DIR=$(realpath "$BUILDROOT_DIR")
EXT=$(realpath "${BR2_EXTERNAL_DIR:-$TOP/buildroot-external}")
REPLAY_OUT=${1:-${REPLAY_OUT:-$HOME/asyncn-br-replay}}
mkdir -p "$REPLAY_OUT"
REPLAY_OUT=$(realpath "$REPLAY_OUT")
for tree in "$TOP" "$(realpath "$EXT/..")"; do
	case "$REPLAY_OUT/" in
	"$tree"/*) die "OUT=$REPLAY_OUT is inside the asyncn checkout $tree" \
		"the packages' local site is the checkout: Buildroot output belongs outside it" ;;
	esac
done
if [ -z "${DEFCONFIGS:-}" ]; then
	DEFCONFIGS=$(cd "$EXT/configs" && ls -- *_defconfig)
fi
JOBS=${JOBS:-2}

# The loop's arm64/6.12 kernel: its build tree, rustc, bindgen, libclang.
ARCH=arm64 KERNEL=6.12 FLAVOUR= BOARD= INIT=busybox
arch_setup
kernel_setup
kernel_paths
require_kernel_build
require_rust_metadata
LOCAL_RUSTC=$(rustup which rustc)
LOCAL_RUST_LIB_SRC=$("$LOCAL_RUSTC" --print sysroot)/lib/rustlib/src/rust/library
LOCAL_BINDGEN=$(command -v bindgen) || die "bindgen is missing (make deps)"
LOCAL_DEPMOD=$(PATH=$PATH:/sbin:/usr/sbin command -v depmod) || die "depmod is missing (kmod)"
HOST_TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
[ -d "$LOCAL_RUST_LIB_SRC" ] || die "no rust-src in $("$LOCAL_RUSTC" --print sysroot) (rustup component add rust-src)"

# One copy of the loop's kernel build for all defconfigs: each replay
# rebuilds only what its flags change. The cache itself is never written.
KB=$REPLAY_OUT/linux-build
if [ ! -f "$KB/.asyncn-built" ] || [ "$(cat "$KB/.replay-of" 2>/dev/null)" != "$KBUILD" ] ||
	[ "$KBUILD/.asyncn-built" -nt "$KB/.asyncn-built" ]; then
	step "replay: copying the loop's kernel build $KBUILD"
	rm -rf "$KB" "$KB.tmp"
	cp -a "$KBUILD" "$KB.tmp"
	echo "$KBUILD" >"$KB.tmp/.replay-of"
	mv "$KB.tmp" "$KB"
fi
info "kernel build: $KB ($(make -s -C "$KB" kernelrelease 2>/dev/null), source $(readlink "$KB/source"))"

VARS='LINUX_MAKE_ENV LINUX_MAKE_FLAGS TARGET_CROSS HOST_DIR TARGET_DIR BUILD_DIR BR2_MAKE
	ASYNCN_SITE ASYNCN_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS ASYNCN_MODULE_SUBDIRS ASYNCN_MODULE_MAKE_OPTS ASYNCN_VERSION
	RSYNC_VCS_EXCLUSIONS HOST_ASYNCN_RUST_SRC_LIBRARY_DIR BR_CARGO_HOME RUSTC_TARGET_NAME
	ASYNCN_TEST_SITE ASYNCN_TEST_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS ASYNCN_TEST_VERSION ASYNCN_TEST_SRCDIR
	ASYNCN_TEST_CARGO_BUILD_OPTS ASYNCN_TEST_CARGO_INSTALL_OPTS ASYNCN_TEST_USE_VENDORED_CRATES
	ASYNCN_TEST_BUILD_CMDS ASYNCN_TEST_INSTALL_TARGET_CMDS
	HOST_ASYNCN_TEST_CRATES_EXTRA_DOWNLOADS HOST_ASYNCN_TEST_CRATES_VENDOR_DIR'

problems=()
fail() { problems+=("$*"); }
declare -A done_kernel done_packages result
summary=()

# subst STRING: the substitution table, applied in order.
subst() {
	local s=$1 i
	for ((i = 0; i < ${#FROM[@]}; i++)); do s=${s//"${FROM[i]}"/"${TO[i]}"}; done
	printf '%s' "$s"
}
# run LOG COMMAND...: runs, logs, shows the log's tail on failure.
run() {
	local log=$1 t0=$SECONDS
	shift
	info "\$ $*"
	if nice -n 10 "$@" >"$log" 2>&1; then
		info "   ok ($((SECONDS - t0)) s)"
	else
		tail -n 25 "$log" | sed 's/^/   | /' >&2
		info "   FAILED ($((SECONDS - t0)) s, log: $log)"
		return 1
	fi
}

for cfg in $DEFCONFIGS; do
	name=${cfg%_defconfig}
	out=$REPLAY_OUT/$name
	R=$REPLAY_OUT/replay-$name
	step "$cfg: loading it (O=$out)"
	mkdir -p "$out"
	make -s -C "$BUILDROOT_DIR" O="$out" BR2_EXTERNAL="$EXT" "$cfg" >"$out.log" 2>&1 ||
		{ tail "$out.log" >&2; fail "$cfg does not load"; continue; }
	# shellcheck disable=SC2086 # VARS is a list of make patterns
	eval "$(make -s -C "$BUILDROOT_DIR" O="$out" printvars VARS="$(echo $VARS)" QUOTED_VARS=YES PKG=ASYNCN_TEST)"
	info "ASYNCN_TEST_CARGO_BUILD_OPTS='$ASYNCN_TEST_CARGO_BUILD_OPTS' ASYNCN_TEST_CARGO_INSTALL_OPTS='${ASYNCN_TEST_CARGO_INSTALL_OPTS:-}'"

	# The substitution table: Buildroot's toolchain paths, this machine's.
	cross_name=$(basename "$TARGET_CROSS")
	FROM=("LINKER=${cross_name}gcc"
		"CARGO_BUILD_TARGET=\"$RUSTC_TARGET_NAME\""
		"CARGO_TARGET_$(echo "$RUSTC_TARGET_NAME" | tr 'a-z-' 'A-Z_')_LINKER"
		"$TARGET_CROSS"
		"$HOST_DIR/bin/rustc"
		"$HOST_DIR/bin/bindgen"
		"$HOST_ASYNCN_RUST_SRC_LIBRARY_DIR"
		"LIBCLANG_PATH=$HOST_DIR/lib"
		"DEPMOD=$HOST_DIR/sbin/depmod"
		"$BR_CARGO_HOME"
		"$HOST_DIR" "$TARGET_DIR" "$BUILD_DIR")
	TO=("LINKER=gcc"
		"CARGO_BUILD_TARGET=\"$HOST_TRIPLE\""
		"CARGO_TARGET_$(echo "$HOST_TRIPLE" | tr 'a-z-' 'A-Z_')_LINKER"
		"$CROSS_COMPILE"
		"$LOCAL_RUSTC"
		"$LOCAL_BINDGEN"
		"$LOCAL_RUST_LIB_SRC"
		"LIBCLANG_PATH=$LIBCLANG_PATH"
		"DEPMOD=$LOCAL_DEPMOD"
		"$R/cargo-home"
		"$R/host" "$R/target" "$R/build")
	info "substitutions (Buildroot -> this machine), in this order:"
	for ((i = 0; i < ${#FROM[@]}; i++)); do info "  ${FROM[i]}  ->  ${TO[i]}"; done
	info "  (cargo and rustc: host-rust-bin in \$(HOST_DIR)/bin, absent here -> rustup $RUSTUP_TOOLCHAIN through PATH;"
	info "   the app is built for $HOST_TRIPLE, not $RUSTC_TARGET_NAME: this machine has neither that Rust"
	info "   standard library nor a glibc sysroot for it; -j$JOBS and nice -n 10 are the replay's)"
	# $(BR2_MAKE) is make, or host-make ($(HOST_DIR)/bin/host-make) for an old make.
	brmake=make
	eval "lenv=($(subst "$LINUX_MAKE_ENV"))"
	eval "lflags=($(subst "$LINUX_MAKE_FLAGS"))"
	eval "modopts=(${ASYNCN_MODULE_MAKE_OPTS:-})"
	rm -rf "$R" && mkdir -p "$R/build" "$R/target" "$R/host" "$R/cargo-home"
	norm() { local s=${1//"$R"/<R>}; printf '%s' "${s//"$out"/<O>}"; }

	# --- kernel ---------------------------------------------------------
	step "$cfg: kernel: Rust preparation and the asyncn module, with LINUX_MAKE_ENV and LINUX_MAKE_FLAGS"
	key=$(norm "${lenv[*]} | ${lflags[*]} | ${modopts[*]} | $ASYNCN_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS")
	if [ -n "${done_kernel[$key]:-}" ]; then
		info "same commands as ${done_kernel[$key]} (output paths aside): not run again"
		result[$name.kernel]=${result[${done_kernel[$key]}.kernel]}
	else
		t0=$SECONDS
		kres=PASS
		# The post-configure hook's command, then the first Rust steps of
		# the kernel's `all`: prepare builds rust/ (core, macros, kernel).
		run "$R/rustavailable.log" env "${lenv[@]}" $brmake "${lflags[@]}" -C "$KB" rustavailable &&
			run "$R/prepare.log" env "${lenv[@]}" $brmake -j"$JOBS" "${lflags[@]}" -C "$KB" prepare ||
			{ kres=FAIL; fail "$cfg: the kernel's Rust preparation fails with Buildroot's flags"; }
		grep -m1 -h -E 'RUSTC P|libmacros' "$R/prepare.log" 2>/dev/null | sed 's/^/    prepare: /' >&2 || true
		if [ "$kres" = PASS ]; then
			# asyncn: the local site method's rsync, then pkg-kernel-module.mk.
			d=$BUILD_DIR/asyncn-$ASYNCN_VERSION
			eval "excl=($ASYNCN_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS $RSYNC_VCS_EXCLUSIONS)"
			mkdir -p "$(subst "$d")"
			run "$R/asyncn-rsync.log" rsync -au --chmod=u=rwX,go=rX "${excl[@]}" "$ASYNCN_SITE/" "$(subst "$d")" ||
				kres=FAIL
			info "asyncn's copy of the checkout: $(cd "$(subst "$d")" && ls -A | tr '\n' ' ')"
			for sub in $ASYNCN_MODULE_SUBDIRS; do
				m=$(subst "$d/$sub")
				run "$R/asyncn-modules.log" env "${lenv[@]}" $brmake -C "$KB" "${lflags[@]}" "${modopts[@]}" \
					PWD="$m" M="$m" modules &&
					run "$R/asyncn-modules_install.log" env "${lenv[@]}" $brmake -C "$KB" "${lflags[@]}" "${modopts[@]}" \
						PWD="$m" M="$m" modules_install || kres=FAIL
			done
			ko=$(cd "$R/target" && find . -name asyncn.ko | head -n1)
			[ -n "$ko" ] && info "installed: ${ko#.}" || kres=FAIL
			[ "$kres" = PASS ] || fail "$cfg: the asyncn module does not build or install with Buildroot's commands"
		fi
		result[$name.kernel]="$kres ($((SECONDS - t0)) s)"
		done_kernel[$key]=$name
	fi

	# --- packages: asyncn-test ------------------------------------------
	step "$cfg: asyncn-test: rsync, crates, cargo build and cargo install as pkg-cargo.mk runs them"
	build_cmds=$(subst "$ASYNCN_TEST_BUILD_CMDS")
	install_cmds=$(subst "$ASYNCN_TEST_INSTALL_TARGET_CMDS")
	key=$(norm "$build_cmds | $install_cmds | $ASYNCN_TEST_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS")
	if [ -n "${done_packages[$key]:-}" ]; then
		info "same commands as ${done_packages[$key]} (output paths aside): not run again"
		result[$name.packages]=${result[${done_packages[$key]}.packages]}
	else
		t0=$SECONDS
		pres=PASS
		# host-asyncn-test-crates: each download checked against the .hash
		# file, unpacked with its Cargo.lock checksum (its EXTRACT_CMDS),
		# installed as the vendor directory (its INSTALL_CMDS).
		hashes=$EXT/package/asyncn-test-crates/asyncn-test-crates.hash
		vendor=$(subst "$HOST_ASYNCN_TEST_CRATES_VENDOR_DIR")
		mkdir -p "$vendor"
		missing=()
		for url in $HOST_ASYNCN_TEST_CRATES_EXTRA_DOWNLOADS; do
			crate=$(basename "$url")
			file=$(find "$HOME/.cargo/registry/cache" -name "$crate" -print -quit 2>/dev/null || true)
			if [ -z "$file" ]; then
				missing+=("$crate")
				continue
			fi
			sum=$(sha256sum "$file" | cut -d' ' -f1)
			if ! grep -qx "sha256  $sum  $crate" "$hashes"; then
				pres=FAIL
				fail "$cfg: $crate: its checksum is not the one of $(basename "$hashes")"
				continue
			fi
			dir=$vendor/${crate%.crate}
			mkdir -p "$dir"
			tar -xzf "$file" -C "$dir" --strip-components=1
			printf '{"files":{},"package":"%s"}' "$sum" >"$dir/.cargo-checksum.json"
		done
		info "crates: $(find "$vendor" -mindepth 1 -maxdepth 1 | wc -l) of $(echo "$HOST_ASYNCN_TEST_CRATES_EXTRA_DOWNLOADS" | wc -w) from cargo's cache (DL_DIR here), checksums checked"
		vendored=yes
		if [ ${#missing[@]} -gt 0 ]; then
			# cargo resolves the whole Cargo.lock, so a vendor directory
			# needs every crate; this machine never downloaded these.
			vendored=no
			info "not in cargo's cache (never downloaded here): ${missing[*]}"
			info "so cargo replays with the local registry (CARGO_HOME=$HOME/.cargo, --offline) instead of"
			info "host-asyncn-test-crates' vendor directory: the pre-configure hook is left out"
		fi
		d=$(subst "$BUILD_DIR/asyncn-test-$ASYNCN_TEST_VERSION")
		mkdir -p "$d"
		eval "excl=($ASYNCN_TEST_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS $RSYNC_VCS_EXCLUSIONS)"
		run "$R/asyncn-test-rsync.log" rsync -au --chmod=u=rwX,go=rX "${excl[@]}" "$ASYNCN_TEST_SITE/" "$d" || pres=FAIL
		info "asyncn-test's copy of the checkout: $(cd "$d" && ls -A | tr '\n' ' ')"
		# The pre-configure hook (its $(@D) is empty in printvars).
		if [ "$vendored" = yes ]; then
			hook=$(subst "$ASYNCN_TEST_USE_VENDORED_CRATES")
			hook=${hook//" /app/.cargo"/" $d/app/.cargo"}
			[[ "$hook" != *" /app/"* ]] || die "the vendoring hook still writes to /app/ (its \$(@D) was not replaced): $hook"
			run "$R/asyncn-test-hook.log" bash -ec "$hook" || pres=FAIL
		else
			build_cmds=${build_cmds//"CARGO_HOME=$R/cargo-home"/"CARGO_HOME=$HOME/.cargo"}
			install_cmds=${install_cmds//"CARGO_HOME=$R/cargo-home"/"CARGO_HOME=$HOME/.cargo"}
		fi
		run "$R/asyncn-test-build.log" bash -ec "$build_cmds" || pres=FAIL
		run "$R/asyncn-test-install.log" bash -ec "$install_cmds" || pres=FAIL
		bin=$R/target/usr/bin/asyncn-test
		version=$("$bin" --version 2>&1) || version="(does not run: $version)"
		info "$bin --version: $version"
		case "$version" in
		*"features: tokio"*) ;;
		*) pres=FAIL; fail "$cfg: the installed asyncn-test lacks the tokio feature: $version" ;;
		esac
		result[$name.packages]="$pres ($((SECONDS - t0)) s; $version)"
		done_packages[$key]=$name
	fi

	# --- deps -------------------------------------------------------------
	step "$cfg: make external-deps"
	t0=$SECONDS
	make -s -C "$BUILDROOT_DIR" O="$out" external-deps >"$R/external-deps" 2>"$R/external-deps.log" ||
		fail "$cfg: make external-deps fails"
	dres=PASS
	found=()
	for want in rust-src rust-bindgen clang llvm; do
		hit=$(grep -m1 "^$want-[0-9]" "$R/external-deps" || true)
		if [ -n "$hit" ]; then found+=("$hit"); else
			found+=("$want: MISSING")
			dres=FAIL
		fi
	done
	info "${found[*]}"
	[ "$dres" = PASS ] || fail "$cfg: make external-deps (so make source and legal-info) lacks the kernel's Rust tools"
	result[$name.deps]="$dres ($((SECONDS - t0)) s; ${found[*]})"
	summary+=("$cfg")
done

step "replay summary (BR2_EXTERNAL=$EXT)"
for cfg in "${summary[@]}"; do
	name=${cfg%_defconfig}
	info "$cfg"
	info "  kernel Rust prepare + asyncn module: ${result[$name.kernel]}"
	info "  asyncn-test cargo install:           ${result[$name.packages]}"
	info "  external-deps:                       ${result[$name.deps]}"
done
[ ${#problems[@]} -eq 0 ] || die "the Buildroot replay found ${#problems[@]} problem(s)" "${problems[@]}"
info "replay: every step passed, in $((SECONDS)) s"
