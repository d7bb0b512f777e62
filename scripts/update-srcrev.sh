#!/usr/bin/env bash
# The revision meta-asyncn builds (ASYNCN_SRCREV in
# meta-asyncn/include/asyncn-source.inc): the newest commit that changed the
# sources the recipes fetch from git.
#
#   update-srcrev.sh          write it (make srcrev), then commit the .inc
#   update-srcrev.sh --check  fail if the pinned revision's sources differ
#                             from HEAD's (make test)
. "$(dirname "$0")/lib.sh"

inc=meta-asyncn/include/asyncn-source.inc
# What the recipes take from the revision (the kernel fragment in config/
# comes from the layer's checkout, as a kernel recipe's file:// fragment).
paths=(driver app init COPYING)

git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1 || die "$TOP is not a git checkout" \
	"the Yocto recipes fetch a pinned revision of this repository"
pinned=$(sed -n 's/^ASYNCN_SRCREV = "\([0-9a-f]\{40\}\)"$/\1/p' "$TOP/$inc")
[ -n "$pinned" ] || die "$inc has no ASYNCN_SRCREV = \"<40 hex digits>\" line"
newest=$(git -C "$TOP" log -1 --format=%H -- "${paths[@]}")

if [ "${1:-}" = --check ]; then
	git -C "$TOP" diff --quiet HEAD -- "$inc" ||
		die "$inc has uncommitted changes: the recipes build what is committed" "commit $inc"
	if ! git -C "$TOP" diff --quiet HEAD -- "${paths[@]}"; then
		info "note: ${paths[*]} have uncommitted changes, which meta-asyncn does not build until committed and pinned (make srcrev)"
	fi
	git -C "$TOP" cat-file -e "$pinned^{commit}" 2>/dev/null ||
		die "ASYNCN_SRCREV $pinned ($inc) is not a commit of this repository"
	git -C "$TOP" merge-base --is-ancestor "$pinned" HEAD ||
		die "ASYNCN_SRCREV $pinned ($inc) is not in HEAD's history"
	if ! git -C "$TOP" diff --quiet "$pinned" HEAD -- "${paths[@]}"; then
		git -C "$TOP" diff --stat "$pinned" HEAD -- "${paths[@]}" | sed 's/^/       /' >&2
		die "ASYNCN_SRCREV is behind: the Yocto recipes would build $pinned, whose ${paths[*]} differ from HEAD's" \
			"run make srcrev and commit $inc"
	fi
	info "srcrev: meta-asyncn builds ${pinned:0:12}, whose ${paths[*]} are HEAD's"
	exit 0
fi

if [ "$pinned" = "$newest" ]; then
	info "srcrev: ASYNCN_SRCREV is already ${newest:0:12}"
else
	sed -i "s/^ASYNCN_SRCREV = \".*\"$/ASYNCN_SRCREV = \"$newest\"/" "$TOP/$inc"
	info "srcrev: ASYNCN_SRCREV ${pinned:0:12} -> ${newest:0:12}; commit $inc"
fi
if ! git -C "$TOP" diff --quiet HEAD -- "${paths[@]}"; then
	info "note: ${paths[*]} have uncommitted changes; commit them, then run make srcrev again"
fi
