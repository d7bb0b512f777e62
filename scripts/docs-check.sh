#!/usr/bin/env bash
# The docs check of make test: Markdown lint with a pinned pymarkdownlnt
# (installed once into build/venv-docs; its settings in
# scripts/pymarkdown.json: every rule but line length, as tables and
# commands are one line each), then scripts/docs-check.py (links, anchors,
# heading levels, paths and make targets named, shell blocks marked with
# the check that runs them, the README's length and first lines).
. "$(dirname "$0")/lib.sh"

PYMARKDOWNLNT_VERSION=0.9.41
venv=$BUILD/venv-docs
if ! "$venv/bin/pymarkdown" version 2>/dev/null | grep -qxF "$PYMARKDOWNLNT_VERSION"; then
	step "installing pymarkdownlnt $PYMARKDOWNLNT_VERSION into ${venv#"$TOP"/}"
	python3 -m venv "$venv" ||
		die "python3 -m venv failed" "install python3-venv (Debian), then run make again"
	log=$venv.log
	"$venv/bin/pip" install --quiet "pymarkdownlnt==$PYMARKDOWNLNT_VERSION" >"$log" 2>&1 ||
		die "pip install pymarkdownlnt==$PYMARKDOWNLNT_VERSION failed (log: $log)" "check the network, then run make again"
fi

cd "$TOP"
mapfile -t docs < <({ git ls-files '*.md' 2>/dev/null || find . -name '*.md' -not -path './build/*'; } | while IFS= read -r f; do [ -f "$f" ] && echo "$f"; done)
[ "${#docs[@]}" -gt 0 ] || die "no Markdown files found" "run make test from the checkout"
step "docs: markdown lint (pymarkdownlnt $PYMARKDOWNLNT_VERSION) of ${#docs[@]} files"
"$venv/bin/pymarkdown" --config "$TOP/scripts/pymarkdown.json" scan "${docs[@]}" ||
	die "markdown lint found the problems above" "fix them (rules: https://pymarkdown.readthedocs.io/en/latest/rules/)"
info "markdown lint: no findings"
step "docs: links, anchors, headings, paths, make targets, shell blocks, README length"
python3 "$TOP/scripts/docs-check.py" --self-test &&
	python3 "$TOP/scripts/docs-check.py"
