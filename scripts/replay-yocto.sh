#!/usr/bin/env bash
# Replays what meta-asyncn's builds would do, offline, with bitbake's own
# evaluation (not in CI: it needs upstream checkouts; make packaging-check
# calls it with KAS_WORK_DIR set). Takes about 25 minutes on 2 cores (each
# build directory parses about 950 recipes once).
#
#   KAS_WORK_DIR=<dir>  bitbake, openembedded-core and meta-raspberrypi at
#                       the commits kas/*.yml pin (as packaging-check.sh).
#   KAS_USER=<user>     as root: the user that runs kas (bitbake refuses root).
#   KAS=<kas>           the kas to run (default: build/venv-kas/bin/kas,
#                       which packaging-check.sh installs, else kas on PATH).
#   REPLAY_MACHINES     the machines of part a (default: qemuarm64 raspberrypi3-64).
#   REPLAY_PARTS        the parts to run (default: "a b").
#   REPLAY_CRATES       directories of .crate files to seed the build's
#                       DL_DIR with (default: cargo's download cache,
#                       ${CARGO_HOME:-~/.cargo}/registry/cache/*): OE-core
#                       fetches every crate of app/Cargo.lock from crates.io.
#
# a. For each machine, `bitbake -e` of core-image-asyncn, asyncn, asyncn-test
#    (and rpi-cmdline on a Pi): the features login needs (empty root
#    password, root login), what ptest needs (DISTRO_FEATURES ptest,
#    asyncn-test-ptest and ptest-runner in IMAGE_INSTALL), the serial console
#    (SERIAL_CONSOLES; on the Pi ENABLE_UART and the kernel command line's
#    console=), and the module's make command line, printed; the
#    outputs stay in $KAS_WORK_DIR/replay/<machine>.*.env, from which
#    scripts/replay-yocto-module.sh replays that make line against a kernel.
# b. The sources travel: a snapshot of this working tree, committed in a
#    scratch repository (src-a), and a `git clone --depth 1` of it at another
#    path (src-b). In each: `bitbake -c unpack asyncn asyncn-init asyncn-test`
#    (offline: asyncn-test's crates come from REPLAY_CRATES; a crate missing
#    there, such as the Windows-only ones cargo never downloads on Linux, is
#    reported and only that failure is allowed), `bitbake -n
#    core-image-asyncn`, `bitbake -S none core-image-asyncn`; then every
#    task signature of the two must be equal (bitbake-diffsigs shows the
#    first that is not). Both trees use one build directory, one after the
#    other: the image's do_rootfs depends on TOPDIR (OE-core's
#    image.bbclass: do_rootfs[dirs] = "${TOPDIR}"), so the image's tasks
#    differ between build directories whatever the sources.
. "$(dirname "$0")/lib.sh"

[ -n "${KAS_WORK_DIR:-}" ] || die "set KAS_WORK_DIR to the directory of the bitbake, openembedded-core and meta-raspberrypi checkouts"
KAS_WORK_DIR=$(cd "$KAS_WORK_DIR" && pwd)
for repo in bitbake openembedded-core meta-raspberrypi; do
	[ -d "$KAS_WORK_DIR/$repo/.git" ] || die "KAS_WORK_DIR=$KAS_WORK_DIR has no $repo checkout"
done
KAS=${KAS:-$BUILD/venv-kas/bin/kas}
[ -x "$KAS" ] || KAS=$(command -v kas) || die "no kas: set KAS=<path to kas> (make packaging-check installs it)"
MACHINES=${REPLAY_MACHINES:-qemuarm64 raspberrypi3-64}
PARTS=${REPLAY_PARTS:-a b}
OUT=$KAS_WORK_DIR/replay
SRC_A=$KAS_WORK_DIR/asyncn-src-a
SRC_B=$KAS_WORK_DIR/asyncn-src-b
mkdir -p "$OUT"

# kas_run SRC MACHINE BUILDNAME COMMANDS LOG: COMMANDS in kas shell of
# SRC/kas/MACHINE.yml, build directory $KAS_WORK_DIR/BUILDNAME, offline.
kas_run() {
	local t0=$SECONDS
	if ! run_as_kas_user "cd '$1' && export KAS_WORK_DIR='$KAS_WORK_DIR' KAS_BUILD_DIR='$KAS_WORK_DIR/$3' &&
		mkdir -p \"\$KAS_BUILD_DIR/conf\" && echo 'BB_NO_NETWORK = \"1\"' >\"\$KAS_BUILD_DIR/conf/site.conf\" &&
		nice -n 10 '$KAS' shell kas/$2.yml -c '$4'" >"$5" 2>&1; then
		tail -n 25 "$5" >&2
		die "$2 ($3): failed after $((SECONDS - t0)) s (log: $5)"
	fi
	info "$2 ($3): $((SECONDS - t0)) s (log: $5)"
}

# --- the two source trees ----------------------------------------------------
step "replay: sources: snapshot of the working tree (src-a), shallow clone of it (src-b)"
rm -rf "$SRC_A" "$SRC_B"
mkdir -p "$SRC_A"
rsync -a --exclude /build --exclude /app/target --exclude /.git "$TOP/" "$SRC_A/"
git -C "$SRC_A" init -q
git -C "$SRC_A" add -A
git -C "$SRC_A" -c user.name=replay -c user.email=replay@invalid commit -q -m "replay snapshot"
git clone -q --depth 1 "file://$SRC_A" "$SRC_B"
info "src-a: $(git -C "$SRC_A" rev-parse HEAD) at $SRC_A"
info "src-b: $(git -C "$SRC_B" rev-parse HEAD) at $SRC_B, shallow: $(git -C "$SRC_B" rev-parse --is-shallow-repository)"
[ "$(id -u)" != 0 ] || chown -R "$KAS_USER" "$KAS_WORK_DIR"

# --- a. bitbake -e -------------------------------------------------------------
case " $PARTS " in *" a "*) ;; *) MACHINES= ;; esac
for machine in $MACHINES; do
	step "replay a: $machine: bitbake -e core-image-asyncn, asyncn, asyncn-test"
	envs=$OUT/$machine
	extra=
	case "$machine" in raspberrypi*) extra="&& bitbake -e rpi-cmdline >$envs.rpi-cmdline.env" ;; esac
	kas_run "$SRC_A" "$machine" "build-$machine" \
		"bitbake -e core-image-asyncn >$envs.image.env && bitbake -e asyncn >$envs.asyncn.env && bitbake -e asyncn-test >$envs.asyncn-test.env $extra" \
		"$OUT/e-$machine.log"
	python3 - "$envs" "$machine" <<'PY' || die "$machine: the configuration lacks what the image needs (above)"
import re, sys
envs, machine = sys.argv[1:]

def read_env(name):
    """Variables and shell functions of one `bitbake -e` output."""
    text = open(f"{envs}.{name}.env").read()
    vars_ = {}
    for m in re.finditer(r'^(?:export )?([A-Za-z0-9_:${}/.+-]+)="(.*)"$', text, re.M):
        vars_[m.group(1)] = m.group(2).replace('\\"', '"').replace('\\$', '$')
    funcs = {m.group(1): m.group(2) for m in
             re.finditer(r'^(\S+)\(\) \{\n(.*?)^\}$', text, re.M | re.S)}
    return vars_, funcs

bad = []
def check(cond, what):
    print(f"    {machine}: {'ok  ' if cond else 'FAIL'} {what}")
    if not cond:
        bad.append(what)

image, _ = read_env("image")
words = lambda v: (image.get(v) or "").split()
features = set(words("IMAGE_FEATURES"))
print(f"    {machine}: EXTRA_IMAGE_FEATURES=\"{image.get('EXTRA_IMAGE_FEATURES', '').strip()}\"")
print(f"    {machine}: IMAGE_FEATURES=\"{' '.join(sorted(features))}\"")
for f in ("empty-root-password", "allow-empty-password", "allow-root-login"):
    check(f in features, f"IMAGE_FEATURES has {f} (login as root)")
check("zap_empty_root_password" not in image.get("ROOTFS_POSTPROCESS_COMMAND", ""),
      "ROOTFS_POSTPROCESS_COMMAND keeps root's empty password (no zap_empty_root_password)")
check("ptest" in words("DISTRO_FEATURES"), "DISTRO_FEATURES has ptest")
install = words("IMAGE_INSTALL")
print(f"    {machine}: IMAGE_INSTALL=\"{' '.join(install)}\"")
for p in ("asyncn", "asyncn-init", "asyncn-test", "asyncn-test-ptest", "ptest-runner"):
    check(p in install, f"IMAGE_INSTALL has {p}")
consoles = image.get("SERIAL_CONSOLES", "").split()
print(f"    {machine}: SERIAL_CONSOLES=\"{' '.join(consoles)}\" (a getty on each)")
ttys = [c.split(";")[1] for c in consoles if ";" in c]
if machine.startswith("qemu"):
    check("ttyAMA0" in ttys, "a getty on ttyAMA0; runqemu passes console=<tty> of each SERIAL_CONSOLES entry")
else:
    want = {"raspberrypi5": "ttyAMA10"}.get(machine, "ttyS0")
    check(want in ttys, f"a getty on {want}")
    check(image.get("ENABLE_UART") == "1", f"ENABLE_UART=\"{image.get('ENABLE_UART')}\" (enable_uart=1 in config.txt)")
    cmdline, _ = read_env("rpi-cmdline")
    line = " ".join(cmdline.get("CMDLINE", "").split())
    print(f"    {machine}: cmdline.txt: {line}")
    check("console=serial0,115200" in line.split(), "the kernel command line has console=serial0,115200")

test, _ = read_env("asyncn-test")
check(test.get("PTEST_ENABLED") == "1", "asyncn-test: PTEST_ENABLED=1")
check("asyncn-test-ptest" in test.get("PACKAGES", "").split(), "asyncn-test: PACKAGES has asyncn-test-ptest")

mod, funcs = read_env("asyncn")
body = funcs.get("module_do_compile") or funcs.get("do_compile") or ""
check("oe_runmake" in body, "asyncn: do_compile runs oe_runmake")
print(f"    {machine}: KRUSTFLAGS=\"{' '.join(mod.get('KRUSTFLAGS', '').split())}\"")
print(f"    {machine}: EXTRA_OEMAKE=\"{' '.join(mod.get('EXTRA_OEMAKE', '').split())}\"")
make = body.replace("\\\n", " ")
make = next((l for l in make.splitlines() if "oe_runmake" in l), "")
print(f"    {machine}: do_compile: {' '.join(make.split())}")
sys.exit(1 if bad else 0)
PY
done

# --- b. unpack, dry run and signatures in both trees -----------------------------
case " $PARTS " in *" b "*) ;; *) info "replay: done (parts: $PARTS); outputs in $OUT" && exit 0 ;; esac
# The crates of asyncn-test-crates.inc, as OE-core's crate fetcher names
# them in DL_DIR.
mapfile -t crates < <(grep -o 'crate://crates.io/[^ ]*' "$TOP/meta-asyncn/recipes-apps/asyncn-test/asyncn-test-crates.inc" |
	sed 's#crate://crates.io/##; s#/#-#; s#$#.crate#')
read -r -a crate_dirs <<<"${REPLAY_CRATES:-$(echo "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*)}"
for tree in a b; do
	src=$SRC_A
	[ "$tree" = a ] || src=$SRC_B
	step "replay b: src-$tree: bitbake -c unpack asyncn asyncn-test asyncn-init; -n and -S none core-image-asyncn (qemuarm64)"
	build=$KAS_WORK_DIR/build-qemuarm64
	rm -rf "$build/tmp/stamps" "$build/tmp/work"/*/asyncn*
	mkdir -p "$build/downloads"
	missing=()
	for crate in "${crates[@]}"; do
		found=
		for dir in "${crate_dirs[@]}"; do
			if [ -f "$dir/$crate" ]; then
				cp "$dir/$crate" "$build/downloads/" && found=1 && break
			fi
		done
		[ -n "$found" ] || missing+=("$crate")
	done
	[ "$(id -u)" != 0 ] || chown -R "$KAS_USER" "$build"
	info "src-$tree: DL_DIR seeded with $((${#crates[@]} - ${#missing[@]})) of ${#crates[@]} crates${missing[*]:+; not available offline: ${missing[*]}}"
	kas_run "$src" qemuarm64 build-qemuarm64 \
		"bitbake -c unpack asyncn asyncn-init && { bitbake -c unpack asyncn-test; echo \"asyncn-test unpack: exit \$?\"; } && bitbake -n core-image-asyncn && bitbake -S none core-image-asyncn" \
		"$OUT/b-$tree.log"
	info "src-$tree: $(grep -E 'Tasks Summary|asyncn-test unpack: exit' "$OUT/b-$tree.log" | tr '\n' ';')"
	if ! grep -q 'asyncn-test unpack: exit 0' "$OUT/b-$tree.log"; then
		# Allowed only as the fetch of a crate that is not here.
		[ "${#missing[@]}" -gt 0 ] || die "src-$tree: asyncn-test did not unpack (log: $OUT/b-$tree.log)"
		failed=$(sed -n "s#^ERROR: asyncn-test-.* do_fetch: .*NetworkAccess('https://static.crates.io/crates/\([^/]*\)/\([^/]*\)/download'.*#\1-\2.crate#p" "$OUT/b-$tree.log" | sort -u)
		[ -n "$failed" ] || die "src-$tree: asyncn-test failed other than on fetching a crate (log: $OUT/b-$tree.log)"
		for crate in $failed; do
			[[ " ${missing[*]} " == *" $crate "* ]] || die "src-$tree: asyncn-test's fetch of $crate failed although DL_DIR has it"
		done
		info "src-$tree: asyncn-test: do_fetch stopped at crate $failed, which is not available offline (its local files are found: the signatures below checksum them)"
	fi
	for r in asyncn asyncn-init asyncn-test; do
		s=$(find "$build/tmp/work" -maxdepth 4 -type d -path "*/$r/*/sources" | head -n 1)
		if [ -n "$s" ] && [ -n "$(find "$s" -type f -not -path '*/cargo_home/*' | head -n 1)" ]; then
			info "src-$tree: $r unpacked: $(cd "$s" && find . -type f -not -path './cargo_home/*' | sort | head -n 8 | tr '\n' ' ')…"
		elif [ "$r" = asyncn-test ] && [ "${#missing[@]}" -gt 0 ]; then
			info "src-$tree: $r: not unpacked (crates missing)"
		else
			die "src-$tree: $r: no unpacked sources"
		fi
	done
	# do_fetch's file checksums: the local files each recipe fetches.
	for r in asyncn asyncn-init asyncn-test; do
		f=$(find "$build/tmp/stamps" -path "*/$r/*" -name '*do_fetch.sigdata.*' | head -n 1)
		[ -n "$f" ] || die "src-$tree: no do_fetch signature of $r"
		info "src-$tree: $r do_fetch ${f##*.sigdata.}: $(run_as_kas_user "'$KAS_WORK_DIR/bitbake/bin/bitbake-dumpsig' '$f'" 2>/dev/null |
			sed -n 's/^This task depends on the checksums of files: //p' | grep -o "\['[^']*'" | tr -d "['" | tr '\n' ' ')"
	done
	# Every task's signature: <recipe dir>/<task>.sigdata.<hash>, relative to
	# the stamps directory, kept for the comparison.
	rm -rf "$OUT/stamps-$tree"
	cp -a "$build/tmp/stamps" "$OUT/stamps-$tree"
	(cd "$OUT/stamps-$tree" && find . -name '*.sigdata.*' | sort) >"$OUT/sigs-$tree"
	info "src-$tree: $(wc -l <"$OUT/sigs-$tree") task signatures"
done
step "replay b: signatures of src-a and src-b"
if cmp -s "$OUT/sigs-a" "$OUT/sigs-b"; then
	info "all $(wc -l <"$OUT/sigs-a") task signatures equal, among them:"
	grep -E '/(asyncn|asyncn-test|asyncn-init)/[^/]*do_(fetch|unpack|compile|install)\.sigdata|/linux-yocto/[^/]*do_(fetch|kernel_configme)\.sigdata|/core-image-asyncn/[^/]*do_rootfs\.sigdata' "$OUT/sigs-a" | sed 's/^/      /' >&2
else
	{ diff "$OUT/sigs-a" "$OUT/sigs-b" || true; } | head -n 20 >&2
	# bitbake-diffsigs on each differing task, from the build directory
	# (it needs the configuration): the root cause is the task whose own
	# variables changed, not a dependency's hash.
	for first in $({ diff "$OUT/sigs-a" "$OUT/sigs-b" || true; } | sed -n 's/^< \.\///p'); do
		other=$(grep -F "./${first%.sigdata.*}.sigdata." "$OUT/sigs-b" | head -n 1) || continue
		echo "${first%.sigdata.*}:" >&2
		run_as_kas_user "cd '$KAS_WORK_DIR/build-qemuarm64' && BBPATH=\$PWD '$KAS_WORK_DIR/bitbake/bin/bitbake-diffsigs' '$OUT/stamps-a/$first' '$OUT/stamps-b/$other'" 2>&1 |
			grep -v '^NOTE' | head -n 6 | sed 's/^/      /' >&2 || true
	done
	die "the task signatures of src-a and src-b differ (above)"
fi
info "replay: done; outputs in $OUT"
