#!/usr/bin/env python3
"""Write meta-asyncn's asyncn-test-crates.inc from app/Cargo.lock.

The output is what OE-core's `bitbake -c update_crates asyncn-test`
(cargo-update-recipe-crates.bbclass) writes, plus one line telling
oelint-adv to accept that layout.

    update-crates-inc.py            rewrite the file
    update-crates-inc.py --check    exit 1 if the file is stale
"""
import sys
import tomllib
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
LOCK = TOP / "app" / "Cargo.lock"
INC = TOP / "meta-asyncn" / "recipes-apps" / "asyncn-test" / "asyncn-test-crates.inc"


def render() -> str:
    with open(LOCK, "rb") as f:
        packages = tomllib.load(f)["package"]
    crates = [p for p in packages if "crates.io" in p.get("source", "")]
    text = ("# Generated from app/Cargo.lock by scripts/update-crates-inc.py (make\n"
            "# crates-inc): the layout OE-core's `bitbake -c update_crates asyncn-test`\n"
            "# writes, plus the nooelint line, which bitbake would not keep.\n\n")
    # OE-core's own layout for this file, which oelint-adv dislikes.
    text += "# from Cargo.lock\n# nooelint: oelint.vars.inconspaces,oelint.vars.notneededspace\n"
    text += "SRC_URI += \" \\"
    sums = ""
    for c in crates:
        text += "\n    crate://crates.io/%s/%s \\" % (c["name"], c["version"])
        if "checksum" in c:
            sums += '\nSRC_URI[%s-%s.sha256sum] = "%s"' % (c["name"], c["version"], c["checksum"])
    return text + '\n"\n' + sums + "\n"


def main() -> int:
    wanted = render()
    if sys.argv[1:] == ["--check"]:
        current = INC.read_text() if INC.exists() else ""
        if current != wanted:
            print(f"{INC.relative_to(TOP)} is stale: run scripts/update-crates-inc.py", file=sys.stderr)
            return 1
        print(f"{INC.relative_to(TOP)} matches app/Cargo.lock ({wanted.count('crate://')} crates)")
        return 0
    INC.write_text(wanted)
    print(f"wrote {INC.relative_to(TOP)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
