#!/usr/bin/env bash
# make clean-room: a newcomer's machine, reproduced. Bootstraps a minimal
# Debian bookworm root from Debian's packages, does in it exactly what the
# README's prerequisites block ("Try it on a laptop") says (and nothing else), clones this
# repository's HEAD and runs the README's two commands as its commands
# block gives them (`make demo` with PACE=0 in the environment, then
# `make test`), then `make test` once more (warm: kernels cached),
# printing each step's result and time.
#
# Any step that fails stops the run with the step's name; a package the
# loop needs but does not install shows up here, where this machine's own
# packages cannot hide it.
#
#   CLEAN_ROOM_USER=1     as a normal user with sudo (the README's other
#                         path): the machine gets sudo and a user
#                         "newcomer" allowed to use it; the README block runs
#                         as that user, sudo before its apt-get lines, as the
#                         README says
#   CLEAN_ROOM_DIR        where the root is unpacked (wiped at the start;
#                         default /var/tmp/asyncn-clean-room, outside the clone)
#   CLEAN_ROOM_REFRESH=1  bootstrap again instead of using the cached tarball
#
# The bootstrapped root is cached as a tarball under ~/.cache/asyncn/ of the
# user who runs `make clean-room`. Needs root (chroot and mounts; through
# sudo otherwise) and the network (Debian's archive, the Rust distribution
# server, crates.io, PyPI).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || die "make clean-room needs root (chroot, mounts), and sudo is not installed" \
		"run it as root"
	# The cache of the user who asked, made by that user, not root's.
	export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$HOME/.cache}
	mkdir -p "$XDG_CACHE_HOME/asyncn/clean-room"
	exec sudo --preserve-env=CLEAN_ROOM_USER,CLEAN_ROOM_DIR,CLEAN_ROOM_REFRESH,XDG_CACHE_HOME,ASYNCN_T0 "$0" "$@"
fi

SUITE=bookworm
MIRROR=http://deb.debian.org/debian
cache=${XDG_CACHE_HOME:-$HOME/.cache}/asyncn/clean-room
dir=$(realpath -m "${CLEAN_ROOM_DIR:-/var/tmp/asyncn-clean-room}")
root=$dir/root
marker=$dir/.asyncn-clean-room
host_arch=$(dpkg --print-architecture)
tarball=$cache/$SUITE-minbase-$host_arch.tar
as_user=${CLEAN_ROOM_USER:-0}
user=root
[ "$as_user" = 1 ] && user=newcomer
# home_of USER: the home directory of a user of the clean root.
home_of() { if [ "$1" = root ]; then echo /root; else echo "/home/$1"; fi; }
home=$(home_of "$user")

results=()
record() { results+=("$(printf '%-34s %-7s %s' "$1" "$2" "$3")"); }
report() {
	printf '\n\033[1m==> clean room summary (%s)\033[0m\n' "$user"
	printf '    %s\n' "${results[@]}"
}
minutes() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
# fail STEP WHY...: stops the run naming the step, after the summary so far.
fail() {
	local name=$1
	shift
	record "$name" FAILED "$1"
	report
	die "clean room: step '$name' failed" "$@"
}

case "$dir" in
"$TOP" | "$TOP"/* | / | /home | /root | /var | /var/tmp | /tmp | "$HOME")
	die "CLEAN_ROOM_DIR=$dir cannot be the clean room" "use a directory of its own, outside $TOP"
	;;
esac
# It is wiped at every start: only a directory this script made.
if [ -e "$dir" ] && [ ! -e "$marker" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
	die "$dir exists and is not a clean room (no ${marker##*/})" "choose another CLEAN_ROOM_DIR, or remove it"
fi

# What goes in from the repository: HEAD, as git of the repository's owner
# sees it (git refuses a repository of another user to root).
owner=$(stat -c %U "$TOP")
repo_git() {
	if [ "$owner" = root ]; then git -C "$TOP" "$@"; else runuser -u "$owner" -- git -C "$TOP" "$@"; fi
}
if [ -n "$(repo_git status --porcelain --untracked-files=no)" ]; then
	info "note: the clean room clones HEAD; uncommitted changes in $TOP are not in it"
fi

if ! command -v mmdebstrap >/dev/null 2>&1; then
	step "installing mmdebstrap (bootstraps the clean room's Debian root)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap; } ||
		fail "host: install mmdebstrap" "apt-get could not install mmdebstrap"
fi

mkdir -p "$cache" || fail "host: cache directory" "cannot create $cache"
if [ ! -f "$tarball" ] || [ "${CLEAN_ROOM_REFRESH:-0}" = 1 ]; then
	step "bootstrapping a minimal Debian $SUITE ($host_arch) into $tarball (once)"
	start=$SECONDS
	# A fresh install's sources: the release, its updates and security.
	mmdebstrap --quiet --variant=minbase --mode=root --format=tar "$SUITE" "$tarball.tmp" \
		"deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
		"deb http://deb.debian.org/debian-security $SUITE-security main" ||
		fail "bootstrap (mmdebstrap minbase)" "mmdebstrap failed"
	mv "$tarball.tmp" "$tarball"
	# Under sudo: the tarball belongs to the user whose cache it is in.
	[ -n "${SUDO_UID:-}" ] && chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$tarball"
	record "bootstrap (mmdebstrap minbase)" ok "$(minutes $((SECONDS - start)))"
else
	record "bootstrap (mmdebstrap minbase)" cached "$tarball"
fi

step "unpacking the clean root into $root"
{ rm -rf "$dir" && mkdir -p "$root" && touch "$marker"; } || fail "unpack the root" "cannot make $root"
tar -xf "$tarball" -C "$root" || fail "unpack the root" "tar could not unpack $tarball"
repo_git bundle create - HEAD >"$root/asyncn.bundle" || fail "bundle HEAD" "git bundle create failed in $TOP"

# readme_block NAME: the README's first sh block after its
# <!-- clean-room: NAME --> marker, as written.
readme_block() {
	awk -v marker="<!-- clean-room: $1 -->" '
		index($0, marker) { found = 1; next }
		found && /^```sh$/ { inside = 1; next }
		inside && /^```$/ { exit }
		inside { print }' "$dir/README.md"
}

# The README's prerequisites block, from HEAD: what a newcomer installs
# before the first `make`. A normal user puts sudo before its apt-get
# lines, as the block's first line says.
prerequisites=$dir/prerequisites.sh
repo_git show HEAD:README.md >"$dir/README.md" || fail "read the README" "git show HEAD:README.md failed"
readme_block prerequisites >"$prerequisites"
[ -s "$prerequisites" ] || fail "read the README" "README.md at HEAD has no block after <!-- clean-room: prerequisites -->"
[ "$as_user" = 1 ] && sed -i 's/^apt-get /sudo apt-get /' "$prerequisites"
# The README's two commands, from its block after the commands marker, run
# as written (PACE=0 in the environment: the demo without its pauses).
mapfile -t readme_commands < <(readme_block commands | sed -E 's/[[:space:]]*#.*$//; /^$/d')
[ "${#readme_commands[@]}" = 2 ] && [ "${readme_commands[0]}" = "make demo" ] && [ "${readme_commands[1]}" = "make test" ] ||
	fail "read the README" "its block after <!-- clean-room: commands --> is not 'make demo' then 'make test': ${readme_commands[*]:-nothing}"
info "the README's prerequisites, as run by $user:"
sed 's/^/      /' "$prerequisites" >&2

# This machine's network setup, which any machine on the same network has
# and no README could tell: the name server, extra trusted CA certificates
# (a TLS-inspecting proxy; the README's ca-certificates install adds them to
# the store), pip's CA setting and the variables that name a CA bundle of
# that store or a proxy. Nothing else of the host goes in.
cp -L /etc/resolv.conf "$root/etc/resolv.conf" || fail "network setup" "cannot copy /etc/resolv.conf"
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
	{ mkdir -p "$root/usr/local/share/ca-certificates" &&
		cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"; } ||
		fail "network setup" "cannot copy the CA certificates"
fi
if [ -f /etc/pip.conf ]; then cp /etc/pip.conf "$root/etc/pip.conf" || fail "network setup" "cannot copy /etc/pip.conf"; fi
network_env=()
for var in SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE GIT_SSL_CAINFO REQUESTS_CA_BUNDLE PIP_CERT; do
	value=${!var:-}
	[ -n "$value" ] || continue
	# The clean root's own store (made by its ca-certificates) is at the
	# same place; a bundle elsewhere would not exist in it.
	case "$value" in
	/etc/ssl/certs | /etc/ssl/certs/*) network_env+=("$var=$value") ;;
	*) info "not passing $var=$value: the clean root has no such file" ;;
	esac
done
for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
	[ -n "${!var:-}" ] && network_env+=("$var=${!var}")
done
# sudo resets the environment: apt, run through it, learns a proxy from its
# own configuration.
if [ -n "${http_proxy:-${HTTP_PROXY:-}}" ]; then
	echo "Acquire::http::Proxy \"${http_proxy:-$HTTP_PROXY}\";" >"$root/etc/apt/apt.conf.d/01proxy"
fi
info "from the host: resolv.conf, $(find /usr/local/share/ca-certificates -name '*.crt' 2>/dev/null | wc -l) CA certificate(s), ${network_env[*]:-no network variables}"

# run_inside NAME USER COMMAND: one step, in a login shell of USER in the
# clean root (so that what the prerequisites put in ~/.profile applies, as
# in a new terminal), with an environment of its own. Logged to
# $dir/NAME.log; a failure stops the run with NAME.
run_inside() {
	local name=$1 who=$2 command=$3 log who_home
	who_home=$(home_of "$who")
	log=$dir/$(tr -c 'a-zA-Z0-9\n' - <<<"$name").log
	step "clean room: $name (as $who)"
	local start=$SECONDS status
	set +e
	unshare --mount --pid --fork --kill-child -- bash -c '
		set -e
		root=$1 who=$2 who_home=$3 command=$4
		shift 4
		mount -t proc proc "$root/proc"
		mount --rbind /sys "$root/sys"
		mount --rbind /dev "$root/dev"
		exec chroot "$root" /usr/sbin/runuser -u "$who" -- /usr/bin/env -i HOME="$who_home" \
			USER="$who" LOGNAME="$who" TERM="${TERM:-dumb}" LANG=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@" \
			/bin/bash -l -c "cd && $command"
	' clean-room "$root" "$who" "$who_home" "$command" "${network_env[@]}" 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	set -e
	local took
	took=$(minutes $((SECONDS - start)))
	[ "$status" -eq 0 ] || fail "$name" "$took, exit $status; log: $log"
	RUN_LOG=$log
	record "$name" ok "$took"
}

# last_line STEP PATTERN: the step's log must have a line matching PATTERN.
last_line() {
	local line
	line=$(grep -a -E "$2" "$RUN_LOG" | tail -n1 || true)
	[ -n "$line" ] || fail "$1" "it passed but printed no line matching '$2' (log: $RUN_LOG)"
	results[-1]+="  $line"
}

if [ "$as_user" = 1 ]; then
	# The machine's administrator, not the README: a user allowed to use sudo.
	run_inside "machine: a user with sudo" root \
		"apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends sudo >/dev/null &&
		useradd -m -s /bin/bash $user && echo '$user ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/$user &&
		chmod 0440 /etc/sudoers.d/$user"
fi
{ cp "$prerequisites" "$root$home/prerequisites.sh" && mv "$root/asyncn.bundle" "$root$home/asyncn.bundle" &&
	chroot "$root" chown "$user:" "$home/prerequisites.sh" "$home/asyncn.bundle"; } ||
	fail "copy the README block and HEAD into $home" "cp/chown failed"
run_inside "README: before the first run" "$user" "bash -ex ./prerequisites.sh"
run_inside "git clone (HEAD)" "$user" \
	"git -c advice.detachedHead=false clone --quiet asyncn.bundle asyncn && git -C asyncn log -1 --format='%h %s'"
run_inside "README: ${readme_commands[0]} (PACE=0)" "$user" "cd asyncn && export PACE=0 && ${readme_commands[0]}"
last_line "README: ${readme_commands[0]} (PACE=0)" '^ok [0-9]+ - scenario: exactly one SIGIO per message'
run_inside "README: ${readme_commands[1]}" "$user" "cd asyncn && ${readme_commands[1]}"
last_line "README: ${readme_commands[1]}" '^test: [0-9]+ passed, 0 failed$'
# The second run of a day's work: every kernel cached.
run_inside "README: ${readme_commands[1]} (again: warm)" "$user" "cd asyncn && ${readme_commands[1]}"
last_line "README: ${readme_commands[1]} (again: warm)" '^test: [0-9]+ passed, 0 failed$'
report
echo "clean-room: passed"
