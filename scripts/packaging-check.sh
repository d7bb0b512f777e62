#!/usr/bin/env bash
# make packaging-check: what README.md, CONTRIBUTING.md, docs/*.md, meta-asyncn/README and
# buildroot-external/board/asyncn/readme.txt tell a packager, executed.
#
#   always (make test runs these; no network):
#     shared files     one copy of each file the loop, Yocto and Buildroot share
#     build dirs       every kas and Buildroot command of the docs builds
#                      outside the checkout
#     licence          COPYING against every recipe's and package's checksum
#     lint             oelint-adv on meta-asyncn, crates.inc against Cargo.lock
#     flash commands   every `bmaptool copy` line of the docs, run on the
#                      loop's card (built if missing: arm64 kernel, ~5 min;
#                      PACKAGING_FLASH=0 leaves this part out)
#   given upstream checkouts (CI cannot fetch them):
#     KAS_WORK_DIR=<dir>   bitbake, openembedded-core and meta-raspberrypi at
#                          the commits kas/*.yml pin: each kas file through
#                          kas (pinned, in build/venv-kas), bitbake -p, bitbake -n
#                          core-image-asyncn and its populate_sdk, and
#                          yocto-check-layer. As root, KAS_USER=<user> runs
#                          them (bitbake refuses root). Then
#                          scripts/replay-yocto.sh, and with LINUX_SRC=<a
#                          6.18 tree> scripts/replay-yocto-module.sh.
#     BUILDROOT_DIR=<dir>  a Buildroot 2026.02.x tree: each defconfig loaded,
#                          in savedefconfig order, show-info, check-package;
#                          then scripts/replay-buildroot.sh (the kernel's Rust
#                          preparation and the packages' build and install
#                          commands, from make printvars; make external-deps),
#                          output in BUILDROOT_REPLAY_DIR (~/asyncn-br-replay)
#     PI_DEFCONFIGS=<dir>  the Raspberry Pi defconfigs, with LINUX_618_SRC,
#                          LINUX_612_SRC and META_RPI: the project's fragment
#                          merged into them as Yocto and Buildroot merge it
#                          (scripts/replay-pi-configs.sh)
. "$(dirname "$0")/lib.sh"

KAS_VERSION=5.5
FLAKE8_VERSION=7.3.0
PYTHON_MAGIC_VERSION=0.4.27

problems=()
fail() { problems+=("$*"); }
need_file() { [ -f "$TOP/$1" ] || fail "missing $1"; }
# need_ref FILE PATTERN: FILE mentions PATTERN.
need_ref() { grep -qF -- "$2" "$TOP/$1" 2>/dev/null || fail "$1 does not reference $2"; }
# The documents whose instructions these checks read: every Markdown file
# of the docs and the two plain-text READMEs of the layers.
docs=(README.md CONTRIBUTING.md meta-asyncn/README buildroot-external/board/asyncn/readme.txt)
for doc in "$TOP"/docs/*.md; do docs+=("${doc#"$TOP"/}"); done
# need_each FOUND WHAT DOC...: every DOC is a key of the associative array
# FOUND (what a part found in it); a DOC that gives none has changed the
# form a part reads, which would otherwise check nothing there.
need_each() {
	local -n found=$1
	local what=$2 doc
	shift 2
	for doc; do
		[ -n "${found[$doc]:-}" ] || fail "$doc: no $what: has its form changed?"
	done
}
# Stop after a part whose problems the next parts would only repeat.
end_part() {
	if ((${#problems[@]})); then
		die "packaging check failed ($1):" "${problems[@]}"
	fi
}

# --- shared files ------------------------------------------------------------
step "packaging: shared files"
for doc in "${docs[@]}"; do need_file "$doc"; done
[ "${#docs[@]}" -gt 4 ] || fail "no docs/*.md found"
shared=(config/asyncn.cfg init/asyncn init/asyncn.service init/99-asyncn.rules init/asyncn.mdev
	init/install.sh buildroot-external/board/asyncn/raspberrypi/genimage.cfg.in
	buildroot-external/board/asyncn/raspberrypi/post-image.sh app/run-ptest COPYING)
for f in "${shared[@]}"; do need_file "$f"; done
# One copy of each shared file: no file of the same name elsewhere.
for f in "${shared[@]}"; do
	name=$(basename "$f")
	while IFS= read -r copy; do
		[ "$copy" = "./$f" ] || fail "$copy duplicates $f: use the one in $(dirname "$f")/"
	done < <(cd "$TOP" && find . -path ./build -prune -o -path ./.git -prune -o \
		-path ./app/target -prune -o -type f -name "$name" -print)
done
# The loop installs and boots them as the packagings do.
need_ref scripts/build-initramfs.sh 'init_dir=${ASYNCN_INIT_DIR:-$TOP/init}'
need_ref scripts/build-initramfs.sh '$init_dir/asyncn '
need_ref scripts/build-initramfs.sh '$init_dir/asyncn.mdev'
need_ref scripts/lib.sh 'config/asyncn.cfg'
need_ref scripts/lib.sh 'CARD_BOARD_DIR=buildroot-external/board/asyncn/raspberrypi3-64'
need_ref scripts/lib.sh 'CARD_IMAGE_DIR=buildroot-external/board/asyncn/raspberrypi'
need_ref scripts/build-card.sh '"$TOP/$CARD_IMAGE_DIR/post-image.sh"'
need_ref scripts/build-card.sh '"$TOP/init/install.sh" "$rootfs" sysvinit'
need_ref scripts/build-card.sh '"$TOP/app/run-ptest" "$rootfs/usr/lib/asyncn-test/ptest/run-ptest"'
need_ref meta-asyncn/recipes-apps/asyncn-test/asyncn-test_0.1.0.bb 'file://app/run-ptest'
need_ref scripts/build-debian-root.sh '"$TOP/init/install.sh" "$dest" systemd'
need_ref buildroot-external/board/asyncn/raspberrypi/post-image.sh '"$BOARD_DIR/genimage.cfg.in"'
for board in raspberrypi3_64 raspberrypi4_64; do
	need_ref "buildroot-external/configs/asyncn_${board}_defconfig" \
		'BR2_ROOTFS_POST_IMAGE_SCRIPT="$(BR2_EXTERNAL_ASYNCN_PATH)/board/asyncn/raspberrypi/post-image.sh"'
done
# Yocto: the recipes build the files of the checkout the layer is in; the
# kernel appends take the fragment from config/, through a link.
need_ref meta-asyncn/conf/layer.conf "ASYNCN_SRCDIR := \"\${@os.path.dirname(os.path.realpath(d.getVar('LAYERDIR')))}\""
for recipe in recipes-kernel/asyncn/asyncn_0.1.0.bb recipes-apps/asyncn-test/asyncn-test_0.1.0.bb \
	recipes-core/asyncn-init/asyncn-init_0.1.0.bb; do
	need_ref "meta-asyncn/$recipe" 'require include/asyncn-source.inc'
done
need_ref meta-asyncn/recipes-core/asyncn-init/asyncn-init_0.1.0.bb 'sh ${S}/install.sh ${D}'
# The recipes list the driver's and init's files one by one: the lists
# are the tracked files (the driver's rustfmt settings aside).
for pair in asyncn:recipes-kernel/asyncn/asyncn_0.1.0.bb:driver asyncn-init:recipes-core/asyncn-init/asyncn-init_0.1.0.bb:init; do
	IFS=: read -r recipe file dir <<<"$pair"
	listed=$(grep -oE "file://$dir/[^;\" ]+" "$TOP/meta-asyncn/$file" | sed 's#^file://##' | sort)
	tracked=$(cd "$TOP" && git ls-files "$dir" | grep -v '/\.rustfmt\.toml$' | sort)
	[ "$listed" = "$tracked" ] ||
		fail "meta-asyncn/$file: its SRC_URI lists other files than git ls-files $dir:" "$(diff <(echo "$listed") <(echo "$tracked") | grep '^[<>]')"
done
need_ref meta-asyncn/recipes-kernel/linux/asyncn-kernel-rust.inc '${THISDIR}/files:'
# The layer's fragment is a link to the one in config/.
[ "$(readlink "$TOP/meta-asyncn/recipes-kernel/linux/files/asyncn.cfg")" = ../../../../config/asyncn.cfg ] ||
	fail "meta-asyncn/recipes-kernel/linux/files/asyncn.cfg is not a relative link to config/asyncn.cfg"
need_ref meta-asyncn/recipes-kernel/linux/asyncn-kernel-rust.inc 'file://asyncn.cfg'
for f in common qemuarm64 raspberrypi raspberrypi3-64 raspberrypi4-64 raspberrypi5; do
	need_file "kas/$f.yml"
done
# Buildroot: the same sources, through BR2_EXTERNAL_ASYNCN_PATH.
need_ref buildroot-external/external.desc 'name: ASYNCN'
need_ref buildroot-external/package/asyncn/asyncn.mk 'ASYNCN_SITE = $(BR2_EXTERNAL_ASYNCN_PATH)/..'
need_ref buildroot-external/package/asyncn/asyncn.mk '$(@D)/init/install.sh $(TARGET_DIR)'
need_ref buildroot-external/package/asyncn-test/asyncn-test.mk 'ASYNCN_TEST_SITE = $(BR2_EXTERNAL_ASYNCN_PATH)/..'
need_ref buildroot-external/package/asyncn-test/asyncn-test.mk 'ASYNCN_TEST_DEPENDENCIES = host-asyncn-test-crates'
for cfg in "$TOP"/buildroot-external/configs/*_defconfig; do
	need_ref "${cfg#"$TOP"/}" 'BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES="$(BR2_EXTERNAL_ASYNCN_PATH)/../config/asyncn.cfg"'
	need_ref "${cfg#"$TOP"/}" 'BR2_PACKAGE_ASYNCN=y'
	need_ref "${cfg#"$TOP"/}" 'BR2_PACKAGE_ASYNCN_TEST=y'
done
# yocto-check-layer's test_readme (OE-core scripts/lib/checklayer/cases/
# common.py): a layer README that refers to no other README names its
# maintainer, says where patches go and gives an e-mail address.
layer_readme=$TOP/meta-asyncn/README
if ! grep -q README "$layer_readme"; then
	{ grep -qi maintainer "$layer_readme" && grep -qi patch "$layer_readme" && grep -q '@' "$layer_readme"; } ||
		fail "meta-asyncn/README: yocto-check-layer wants a maintainer, patches and an e-mail address, or a reference to a README that has them"
fi
end_part "shared files"
info "packaging: one copy of each shared file; the loop, meta-asyncn and buildroot-external reference it"

# --- build directories -------------------------------------------------------
# kas clones its repositories into KAS_WORK_DIR and builds in KAS_BUILD_DIR
# (by default the current directory and its build/, the loop's own), and the
# Buildroot packages' local site is this checkout: every kas or Buildroot
# command the docs give puts them outside it.
step "packaging: the docs' build directories"
outside='(~|\$HOME|/)'
kas_commands=0 buildroot_commands=0
declare -A kas_in=() buildroot_in=()
while IFS= read -r hit; do
	where=${hit%%:*}:$(cut -d: -f2 <<<"$hit")
	line=$(cut -d: -f3- <<<"$hit" | sed -E 's/^[[:space:]#]*//')
	case "$line" in
	make\ *)
		# O= is make's argument, where no shell expands "~".
		buildroot_commands=$((buildroot_commands + 1))
		buildroot_in[${hit%%:*}]=1
		[[ "$line" =~ (^|[[:space:]])O=(\$HOME|/) ]] ||
			fail "$where: a Buildroot command without an output directory outside the checkout (O=\$HOME/...): $line"
		;;
	*)
		kas_commands=$((kas_commands + 1))
		kas_in[${hit%%:*}]=1
		[[ "$line" =~ KAS_WORK_DIR=$outside ]] && [[ "$line" =~ KAS_BUILD_DIR=$outside ]] ||
			fail "$where: a kas command without KAS_WORK_DIR and KAS_BUILD_DIR outside the checkout: $line"
		;;
	esac
done < <(cd "$TOP" && awk '
	# A command continued with "\" counts as one line, numbered by its first.
	FNR == 1 { joined = "" }
	{
		text = $0
		if (joined != "") { sub(/^[[:space:]#]*/, "", text); joined = joined " " text }
		else { joined = text; first = FNR }
		if (joined ~ /\\$/) { sub(/\\$/, "", joined); next }
		print FILENAME ":" first ":" joined
		joined = ""
	}' "${docs[@]}" kas/*.yml |
	grep -E '^[^:]+:[0-9]+:[[:space:]#]*([A-Z_]+=[^[:space:]]+[[:space:]]+)*(([^[:space:]]*/)?kas(-container)? (build|shell|checkout) |make .*(BR2_EXTERNAL=|-C [^[:space:]]*buildroot))' |
	sed -E 's/^([^:]+:[0-9]+:)[[:space:]#]*([A-Z_]+=[^[:space:]]+[[:space:]]+)*(make )/\1\3/')
# Against a check that finds nothing to check: the README and the layer's
# README each give kas commands, the README and the Buildroot readme make
# commands.
[ "$kas_commands" -ge 2 ] && [ "$buildroot_commands" -ge 2 ] ||
	fail "the docs' build commands were not found ($kas_commands kas, $buildroot_commands Buildroot): has their form changed?"
# Each document that gives the build gives its command in a form found here.
need_each kas_in "kas command found" README.md docs/yocto.md meta-asyncn/README
need_each buildroot_in "Buildroot command found" README.md docs/buildroot.md buildroot-external/board/asyncn/readme.txt
# Prose that sends a reader to run kas in the checkout.
if (cd "$TOP" && grep -nE '`kas (build|shell) kas/' "${docs[@]}"); then
	fail "the docs name a kas command run from the checkout (\`kas build kas/...\`)"
fi
end_part "build directories"
info "build directories: every kas and Buildroot command of the docs builds outside the checkout"

# --- licence -----------------------------------------------------------------
step "packaging: licence"
license=GPL-2.0-only
md5=$(md5sum "$TOP/COPYING" | cut -d' ' -f1)
sha256=$(sha256sum "$TOP/COPYING" | cut -d' ' -f1)
grep -q 'GNU GENERAL PUBLIC LICENSE' "$TOP/COPYING" && grep -q 'Version 2, June 1991' "$TOP/COPYING" ||
	fail "COPYING is not the GNU GPL version 2"
inc=meta-asyncn/include/asyncn-source.inc
need_ref "$inc" "LICENSE = \"$license\""
need_ref "$inc" "LIC_FILES_CHKSUM = \"file://../COPYING;md5=$md5\""
for pkg in asyncn asyncn-test; do
	mk=buildroot-external/package/$pkg/$pkg.mk
	var=$(echo "$pkg" | tr 'a-z-' 'A-Z_')
	need_ref "$mk" "${var}_LICENSE = $license"
	need_ref "$mk" "${var}_LICENSE_FILES = COPYING"
	need_ref "buildroot-external/package/$pkg/$pkg.hash" "sha256  $sha256  COPYING"
done
need_ref app/Cargo.toml "license = \"$license\""
# The module's MODULE_LICENSE: "GPL" is the kernel's name for GPL v2
# (Documentation/process/license-rules.rst), and keeps it GPL-compatible.
need_ref driver/asyncn.rs 'license: "GPL",'
while IFS= read -r f; do
	grep -q "SPDX-License-Identifier: $license" "$TOP/$f" || fail "$f: no SPDX-License-Identifier: $license"
done < <(cd "$TOP" && git ls-files driver bench | grep -E '\.(rs|c|h)$|Kbuild$|Makefile$' || true)
# No recipe may fall back to the common licence text (it would never see
# COPYING change).
if grep -rn 'COMMON_LICENSE_DIR' "$TOP/meta-asyncn" >/dev/null; then
	fail "meta-asyncn checksums \${COMMON_LICENSE_DIR}: checksum the repository's COPYING"
fi
end_part licence
info "licence: $license; COPYING md5 $md5 (meta-asyncn), sha256 ${sha256:0:16}… (buildroot-external)"

# --- lint --------------------------------------------------------------------
step "packaging: oelint-adv on meta-asyncn"
"$TOP/scripts/lint-layer.sh"

# --- flash commands -----------------------------------------------------------
# Every `bmaptool copy IMAGE /dev/sdX` line of the docs, run as written in a
# scratch directory where IMAGE is the loop's card (the same genimage
# layout and post-image.sh the Buildroot boards use), compressed as IMAGE's
# name says, with the block map where Buildroot (IMAGE.bmap) or Yocto
# (the .wic.bmap beside .wic.bz2) writes it; /dev/sdX is an empty file.
# The flashed file must equal the card.
step "packaging: the docs' flash commands, on the loop's card"
if [ "${PACKAGING_FLASH:-1}" = 0 ]; then
	info "flash commands: not run here (PACKAGING_FLASH=0: make test with a card target runs them)"
else
ARCH=arm64 KERNEL= FLAVOUR= BOARD=raspi3b INIT=busybox
arch_setup
kernel_setup
board_setup
if [ ! -f "$CARD_DIR/sdcard.img.bz2" ]; then
	info "no card in ${CARD_DIR#"$TOP"/}: building it (make card)"
	make -C "$TOP" --no-print-directory card BOARD=raspi3b ARCH=arm64 KERNEL= INIT=busybox
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
bunzip2 -k -c "$CARD_DIR/sdcard.img.bz2" >"$scratch/card.img"
flashes=0
declare -A flashed_in=()
while IFS= read -r hit; do
	doc=${hit%%:*}
	rest=${hit#*:}
	lineno=${rest%%:*}
	line=${rest#*:}
	command=${line%%#*}
	# The docs name the command in prose as `bmaptool copy`; every other
	# line naming it must be an instruction this check can run.
	case "$line" in *'`bmaptool copy`'*) continue ;; esac
	read -r -a words <<<"$command"
	# A user flashes as root: "sudo bmaptool copy ...".
	[ "${words[0]:-}" = sudo ] && words=("${words[@]:1}")
	where="$doc:$lineno"
	if [ "${#words[@]}" -ne 4 ] || [ "${words[1]}" != copy ] || [ "${words[3]}" != /dev/sdX ]; then
		fail "$where: not of the form 'bmaptool copy IMAGE /dev/sdX': $line"
		continue
	fi
	image=${words[2]}
	# Only a name that a build of the project writes.
	case "$image" in
	build/arm64/raspi3b/sdcard.img.bz2) ;;                # make card
	images/sdcard.img) ;;                                 # Buildroot (in O=): post-image.sh
	tmp/deploy/images/*/core-image-asyncn-*.rootfs.wic.bz2) # Yocto: meta-raspberrypi's wic.bz2
		machine=${image#tmp/deploy/images/}
		machine=${machine%%/*}
		if [ "$image" != "tmp/deploy/images/$machine/core-image-asyncn-$machine.rootfs.wic.bz2" ] ||
			[ ! -f "$TOP/kas/$machine.yml" ]; then
			fail "$where: $image is not what kas/<machine>.yml's build deploys"
			continue
		fi
		;;
	*)
		fail "$where: no build of the project writes $image"
		continue
		;;
	esac
	run=$scratch/run$flashes
	mkdir -p "$run/$(dirname "$image")"
	case "$image" in
	*.bz2) cp "$CARD_DIR/sdcard.img.bz2" "$run/$image" ;;
	*) cp --sparse=always "$scratch/card.img" "$run/$image" ;;
	esac
	cp "$CARD_DIR/sdcard.img.bmap" "$run/${image%.bz2}.bmap"
	# Buildroot's host bmaptool, where the readme names it.
	if [ "${words[0]}" != bmaptool ]; then
		mkdir -p "$run/$(dirname "${words[0]}")"
		ln -s "$(command -v bmaptool)" "$run/${words[0]}"
	fi
	: >"$run/sdX"
	if ! (cd "$run" && "${words[0]}" copy "$image" sdX) >"$run/log" 2>&1; then
		fail "$where: '$command' failed: $(tail -n 1 "$run/log")"
	elif ! grep -q "discovered bmap file" "$run/log"; then
		fail "$where: bmaptool did not use a block map: $(tail -n 1 "$run/log")"
	elif ! cmp -s "$run/sdX" "$scratch/card.img"; then
		fail "$where: the flashed card differs from the image"
	else
		info "$where: ${words[0]} copy $image /dev/sdX: flashed, equal to the card"
	fi
	flashes=$((flashes + 1))
	flashed_in[$doc]=1
done < <(cd "$TOP" && grep -nE 'bmaptool +copy' "${docs[@]}")
[ "$flashes" -gt 0 ] || fail "no bmaptool copy line found in ${docs[*]}"
# Each document that tells how to flash a card has its line run here.
need_each flashed_in "bmaptool copy line was run" README.md docs/yocto.md docs/buildroot.md docs/testing.md \
	meta-asyncn/README buildroot-external/board/asyncn/readme.txt
# A sentence that still points at what no build writes.
if (cd "$TOP" && grep -nE 'start-qemu|6\.18%' "${docs[@]}"); then
	fail "the docs name start-qemu.sh or a 6.18% kernel pin, which no check executes"
fi
end_part "flash commands"
info "flash commands: $flashes executed"
fi

# --- kas / bitbake ------------------------------------------------------------
if [ -n "${KAS_WORK_DIR:-}" ]; then
	# The system's python3 (Debian's), which KAS_USER can run, unlike a
	# python under root's home.
	venv=$BUILD/venv-kas
	if ! "$venv/bin/kas" --version 2>/dev/null | grep -q "^kas $KAS_VERSION "; then
		step "installing kas $KAS_VERSION into ${venv#"$TOP"/}"
		/usr/bin/python3 -m venv "$venv"
		"$venv/bin/pip" install --quiet "kas==$KAS_VERSION"
	fi
	for repo in bitbake openembedded-core meta-raspberrypi; do
		[ -d "$KAS_WORK_DIR/$repo/.git" ] || die "KAS_WORK_DIR=$KAS_WORK_DIR has no $repo checkout"
	done
	# kas reads this repository from a copy of its working tree, owned by
	# KAS_USER (the recipes' sources are that copy's files).
	copy=$KAS_WORK_DIR/asyncn
	rsync -a --delete --exclude /build --exclude /app/target "$TOP/" "$copy/"
	[ "$(id -u)" != 0 ] || chown -R "$KAS_USER" "$KAS_WORK_DIR"
	# Offline: every repository is in KAS_WORK_DIR at its pinned commit.
	for machine in ${KAS_MACHINES:-qemuarm64 raspberrypi3-64 raspberrypi4-64 raspberrypi5}; do
		step "kas: $machine: bitbake -p, bitbake -n core-image-asyncn (+ -c populate_sdk)"
		log=$KAS_WORK_DIR/kas-$machine.log
		if run_as_kas_user "cd '$copy' && export KAS_WORK_DIR='$KAS_WORK_DIR' KAS_BUILD_DIR='$KAS_WORK_DIR/build-$machine' &&
			mkdir -p \"\$KAS_BUILD_DIR/conf\" && echo 'BB_NO_NETWORK = \"1\"' >\"\$KAS_BUILD_DIR/conf/site.conf\" &&
			'$venv/bin/kas' shell kas/$machine.yml -c 'bitbake -p && bitbake -n core-image-asyncn && bitbake -n -c populate_sdk core-image-asyncn'" \
			>"$log" 2>&1; then
			info "$machine: $(grep -E 'Parsing of [0-9]+ .bb files complete' "$log" | tail -n 1)"
			info "$machine: $(grep -E 'Tasks Summary' "$log" | tr '\n' ';')"
		else
			tail -n 15 "$log" >&2
			fail "kas $machine: failed (log: $log)"
		fi
	done
	# As a user adds the layer: without KERNEL_FEATURES "rust" (the opt-in,
	# which changes the kernel on purpose), adding meta-asyncn must change
	# no other recipe's signature, which is what yocto-check-layer tests.
	step "yocto-check-layer meta-asyncn (qemuarm64, KERNEL_FEATURES without rust)"
	log=$KAS_WORK_DIR/yocto-check-layer.log
	if run_as_kas_user "cd '$copy' && export KAS_WORK_DIR='$KAS_WORK_DIR' KAS_BUILD_DIR='$KAS_WORK_DIR/build-check-layer' &&
		mkdir -p \"\$KAS_BUILD_DIR/conf\" && echo 'BB_NO_NETWORK = \"1\"' >\"\$KAS_BUILD_DIR/conf/site.conf\" &&
		'$venv/bin/kas' shell kas/qemuarm64.yml -c 'sed -i \"/KERNEL_FEATURES/d\" conf/local.conf && bitbake-layers remove-layer meta-asyncn && yocto-check-layer --no-auto-dependency \"$copy/meta-asyncn\" --machines qemuarm64'" \
		>"$log" 2>&1; then
		info "yocto-check-layer: $(grep -E 'meta-asyncn +PASS|INFO: meta-asyncn' "$log" | tail -n 1)"
	else
		tail -n 25 "$log" >&2
		fail "yocto-check-layer: failed (log: $log)"
	fi
	end_part kas
	# What the builds would do: bitbake -e (login, ptest, consoles, the
	# module's make line), the sources from a shallow clone and a second
	# path with equal signatures; then that make line against the loop's
	# Linux 6.18 kernel, given its tree (LINUX_SRC; make kernel KERNEL=6.18).
	KAS="$venv/bin/kas" "$TOP/scripts/replay-yocto.sh"
	if [ -n "${LINUX_SRC:-}" ]; then
		for env_file in "$KAS_WORK_DIR"/replay/*.asyncn.env; do
			"$TOP/scripts/replay-yocto-module.sh" "$env_file"
		done
	else
		info "the asyncn recipe's make line against Linux 6.18: not run (LINUX_SRC unset: a linux-6.18.y tree)"
	fi
else
	info "kas, bitbake and yocto-check-layer: not run (KAS_WORK_DIR unset: they need checkouts of bitbake, openembedded-core, meta-raspberrypi at the pinned commits)"
fi

# --- Buildroot ----------------------------------------------------------------
if [ -n "${BUILDROOT_DIR:-}" ]; then
	[ -f "$BUILDROOT_DIR/utils/check-package" ] || die "BUILDROOT_DIR=$BUILDROOT_DIR is not a Buildroot tree"
	out=$BUILD/buildroot-check
	for cfg in "$TOP"/buildroot-external/configs/*_defconfig; do
		name=$(basename "$cfg")
		step "Buildroot: $name"
		rm -rf "$out"
		make -s -C "$BUILDROOT_DIR" O="$out" BR2_EXTERNAL="$TOP/buildroot-external" "$name" >"$out.log" 2>&1 ||
			{ tail "$out.log" >&2 && fail "$name does not load" && continue; }
		make -s -C "$BUILDROOT_DIR" O="$out" savedefconfig BR2_DEFCONFIG="$out/saved" >>"$out.log" 2>&1
		cmp -s "$cfg" "$out/saved" || fail "$name is not what savedefconfig writes: $(diff "$cfg" "$out/saved" | head -n 4 | tr '\n' ' ')"
		make -s -C "$BUILDROOT_DIR" O="$out" show-info >"$out/info.json" 2>>"$out.log"
		python3 - "$out/info.json" "$name" <<'PY' || fail "$name: show-info lacks the asyncn packages"
import json, sys
info = json.load(open(sys.argv[1]))
want = {"asyncn": "GPL-2.0-only", "asyncn-test": "GPL-2.0-only", "host-asyncn-rust-src": "Apache-2.0 or MIT"}
for pkg, lic in want.items():
    # cargo-package appends ", vendored dependencies licenses probably not listed".
    got = (info.get(pkg, {}).get("licenses") or "").split(",")[0].strip()
    if got != lic:
        sys.exit(f"{sys.argv[2]}: {pkg}: licence {got!r}, want {lic!r}")
deps = info["linux"]["dependencies"]
missing = [d for d in ("host-rustc", "host-asyncn-rust-src", "host-rust-bindgen") if d not in deps]
if missing:
    sys.exit(f"{sys.argv[2]}: linux does not depend on {missing}")
print(f"    {sys.argv[2]}: loads, savedefconfig order, show-info: asyncn, asyncn-test, host-asyncn-rust-src; linux needs host-rustc, bindgen, rust-src")
PY
	done
	step "Buildroot: utils/check-package -b buildroot-external"
	venv=$BUILD/venv
	if ! "$venv/bin/python3" -c 'import magic, flake8' 2>/dev/null; then
		python3 -m venv "$venv"
		"$venv/bin/pip" install --quiet "python-magic==$PYTHON_MAGIC_VERSION" "flake8==$FLAKE8_VERSION"
	fi
	mapfile -t files < <(cd "$TOP" && git ls-files buildroot-external)
	if (cd "$TOP" && PATH="$venv/bin:$PATH" "$venv/bin/python3" "$BUILDROOT_DIR/utils/check-package" -b "${files[@]}") >"$out.check-package" 2>&1; then
		info "check-package: $(tail -n 2 "$out.check-package" | tr '\n' ' ')"
	else
		cat "$out.check-package" >&2
		fail "check-package found problems"
	fi
	end_part Buildroot
	# What a Buildroot build runs for the kernel and the packages, replayed
	# (outside the checkout: the packages' local site is the checkout).
	"$TOP/scripts/replay-buildroot.sh" "${BUILDROOT_REPLAY_DIR:-$HOME/asyncn-br-replay}"
else
	info "Buildroot defconfigs and check-package: not run (BUILDROOT_DIR unset: they need a Buildroot 2026.02.x tree)"
fi
# --- Raspberry Pi kernel configurations -----------------------------------------
if [ -n "${PI_DEFCONFIGS:-}" ]; then
	"$TOP/scripts/replay-pi-configs.sh"
else
	info "Raspberry Pi kernel configurations: not run (PI_DEFCONFIGS unset: they need the Pi defconfigs and a 6.18 and a 6.12 tree, see scripts/replay-pi-configs.sh)"
fi
info "packaging: every check passed"
