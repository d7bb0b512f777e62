#!/usr/bin/env bash
# Lint meta-asyncn with a pinned oelint-adv (installed once into
# build/venv) and check that asyncn-test-crates.inc matches app/Cargo.lock.
. "$(dirname "$0")/lib.sh"

OELINT_ADV_VERSION=9.11.2
venv=$BUILD/venv
if [ ! -x "$venv/bin/oelint-adv" ] || ! "$venv/bin/oelint-adv" --version 2>/dev/null | grep -q "$OELINT_ADV_VERSION"; then
	step "installing oelint-adv $OELINT_ADV_VERSION into ${venv#"$TOP"/}"
	python3 -m venv "$venv" ||
		die "python3 -m venv failed" "install python3-venv (Debian), then run make again"
	"$venv/bin/pip" install --quiet "oelint-adv==$OELINT_ADV_VERSION"
fi

step "checking the crate lists (meta-asyncn, buildroot-external) against app/Cargo.lock"
"$venv/bin/python3" "$TOP/scripts/update-crates-inc.py" --check

step "oelint-adv $OELINT_ADV_VERSION on meta-asyncn"
mapfile -t files < <(find "$TOP/meta-asyncn" -name '*.bb' -o -name '*.bbappend' -o -name '*.inc' -o -name '*.bbclass' | sort)
# Suppressions, each with its reason, live in meta-asyncn/.oelint.cfg.
(cd "$TOP/meta-asyncn" && "$venv/bin/oelint-adv" --quiet --release wrynose "${files[@]}")
info "oelint-adv: no findings in ${#files[@]} files"
