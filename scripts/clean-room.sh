#!/usr/bin/env bash
# make clean-room: a newcomer's machine, reproduced. Bootstraps a minimal
# Debian bookworm root from Debian's packages, does in it exactly what the
# README's "Before the first run" block says (and nothing else), clones this
# repository's HEAD and runs the README's two commands, `make demo PACE=0`
# and `make test`, printing each step's result and time.
#
# Any step that fails stops the run with the step's name; a package the
# loop needs but does not install shows up here, where this machine's own
# packages cannot hide it.
#
#   CLEAN_ROOM_DIR      where the root is unpacked (wiped at the start;
#                       default /var/tmp/asyncn-clean-room, outside the clone)
#   CLEAN_ROOM_REFRESH=1  bootstrap again instead of using the cached tarball
#
# The bootstrapped root is cached as a tarball under ~/.cache/asyncn/.
# Needs root (chroot and mounts; through sudo otherwise) and the network
# (Debian's archive, the Rust distribution server, crates.io, PyPI).
. "$(dirname "$0")/lib.sh"

SUITE=bookworm
MIRROR=http://deb.debian.org/debian
cache=${XDG_CACHE_HOME:-$HOME/.cache}/asyncn/clean-room
dir=${CLEAN_ROOM_DIR:-/var/tmp/asyncn-clean-room}
root=$dir/root
host_arch=$(dpkg --print-architecture)
tarball=$cache/$SUITE-minbase-$host_arch.tar

[ "$(id -u)" -eq 0 ] || exec sudo --preserve-env=CLEAN_ROOM_DIR,CLEAN_ROOM_REFRESH,XDG_CACHE_HOME "$0" "$@"

case "$dir" in
"$TOP" | "$TOP"/*) die "CLEAN_ROOM_DIR=$dir is inside the clone" "use a directory outside $TOP" ;;
esac

results=()
record() { results+=("$(printf '%-34s %-7s %s' "$1" "$2" "$3")"); }
report() {
	printf '\n\033[1m==> clean room summary\033[0m\n'
	printf '    %s\n' "${results[@]}"
}
minutes() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# The README's block after the clean-room marker: what a newcomer installs
# before the first `make`.
prerequisites=$dir/prerequisites.sh
readme_block() {
	awk '/<!-- clean-room: prerequisites -->/ { found = 1; next }
		found && /^```sh$/ { inside = 1; next }
		inside && /^```$/ { exit }
		inside { print }' "$TOP/README.md"
}

if [ -n "$(git -C "$TOP" status --porcelain --untracked-files=no)" ]; then
	info "note: the clean room clones HEAD; uncommitted changes in $TOP are not in it"
fi

if ! command -v mmdebstrap >/dev/null 2>&1; then
	step "installing mmdebstrap (bootstraps the clean room's Debian root)"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap
fi

mkdir -p "$cache"
if [ ! -f "$tarball" ] || [ "${CLEAN_ROOM_REFRESH:-0}" = 1 ]; then
	step "bootstrapping a minimal Debian $SUITE ($host_arch) into ${tarball/#$HOME/\~} (once)"
	start=$SECONDS
	# A fresh install's sources: the release, its updates and security.
	mmdebstrap --quiet --variant=minbase --mode=root --format=tar "$SUITE" "$tarball.tmp" \
		"deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
		"deb http://deb.debian.org/debian-security $SUITE-security main" ||
		die "clean room: step 'bootstrap' failed (mmdebstrap)"
	mv "$tarball.tmp" "$tarball"
	record "bootstrap (mmdebstrap minbase)" ok "$(minutes $((SECONDS - start)))"
else
	record "bootstrap (mmdebstrap minbase)" cached "${tarball/#$HOME/\~}"
fi

step "unpacking the clean root into $root"
rm -rf "$dir"
mkdir -p "$root"
tar -xf "$tarball" -C "$root"
readme_block >"$prerequisites"
[ -s "$prerequisites" ] || die "README.md has no block after <!-- clean-room: prerequisites -->"
info "the README's prerequisites, as run:"
sed 's/^/      /' "$prerequisites" >&2
install -m 0755 "$prerequisites" "$root/root/prerequisites.sh"
# This machine's network setup, which any machine on the same network has
# and no README could tell: the name server, extra trusted CA certificates
# (a TLS-inspecting proxy; the README's ca-certificates install adds them to
# the store), pip's CA setting and the variables that name a CA bundle or
# a proxy. Nothing else of the host goes in.
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
	mkdir -p "$root/usr/local/share/ca-certificates"
	cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
network_env=()
for var in SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE GIT_SSL_CAINFO REQUESTS_CA_BUNDLE PIP_CERT \
	http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
	[ -n "${!var:-}" ] && network_env+=("$var=${!var}")
done
info "from the host: resolv.conf, $(ls /usr/local/share/ca-certificates 2>/dev/null | wc -l) CA certificate(s), ${network_env[*]:-no network variables}"

# run_inside NAME COMMAND: one step, as root in a login shell of the clean
# root (so that what the prerequisites put in ~/.profile applies, as in a
# new terminal), with an environment of its own. Logged to $dir/NAME.log.
run_inside() {
	local name=$1 command=$2 log
	log=$dir/$(tr -c 'a-zA-Z0-9\n' - <<<"$name").log
	step "clean room: $name"
	local start=$SECONDS status
	set +e
	unshare --mount --pid --fork --kill-child -- bash -c '
		set -e
		root=$1 src=$2 command=$3
		mount -t proc proc "$root/proc"
		mount --rbind /sys "$root/sys"
		mount --rbind /dev "$root/dev"
		mkdir -p "$root/srv/asyncn"
		mount --bind -o ro "$src" "$root/srv/asyncn"
		shift 3
		exec chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root \
			TERM="${TERM:-dumb}" LANG=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@" \
			/bin/bash -l -c "cd /root && $command"
	' clean-room "$root" "$TOP" "$command" "${network_env[@]}" 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	set -e
	local took
	took=$(minutes $((SECONDS - start)))
	if [ "$status" -ne 0 ]; then
		record "$name" FAILED "$took (exit $status; log ${log})"
		report
		die "clean room: step '$name' failed (exit $status)" "log: $log"
	fi
	RUN_LOG=$log
	record "$name" ok "$took"
}

run_inside "README: before the first run" "bash -ex ./prerequisites.sh"
run_inside "git clone (HEAD)" "git clone --quiet /srv/asyncn asyncn && git -C asyncn log -1 --format='%h %s'"
run_inside "make demo PACE=0" "cd asyncn && make demo PACE=0"
demo_line=$(grep -a -m1 -E 'scenario: exactly one SIGIO per message' "$RUN_LOG" || true)
[ -n "$demo_line" ] || die "clean room: 'make demo' passed but printed no scenario result" "log: $RUN_LOG"
results[-1]+="  ${demo_line}"
run_inside "make test" "cd asyncn && make test"
test_line=$(grep -a -E '^test: [0-9]+ passed, 0 failed$' "$RUN_LOG" | tail -n1 || true)
[ -n "$test_line" ] || die "clean room: 'make test' ended without 'test: N passed, 0 failed'" "log: $RUN_LOG"
results[-1]+="  ${test_line}"
report
echo "clean-room: passed"
