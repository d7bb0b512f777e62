#!/usr/bin/env python3
"""Counts the driver's unsafe code, per file: unsafe blocks, unsafe
functions (`unsafe fn`, `unsafe extern "C" fn`, not pointer types),
unsafe impls and traits,
and the lines inside unsafe blocks (lines with code between `unsafe {` and
its closing brace, both included; a block on one line is one line).

Usage: unsafe-count.py [--kernel 6.12|6.18|7.x] [FILE...]
       unsafe-count.py --self-test
FILE... defaults to every .rs file under driver/. Without --kernel, every
line of the source counts, and a last line per kernel gives the totals of
what that kernel compiles. With --kernel, the table is of what that kernel
compiles: items under a `#[cfg(...)]` that is false there are left out
(driver/Kbuild's `asyncn_6_18` and `asyncn_7_0`; of the kernel options,
the loop's default kernels have CONFIG_BUG and CONFIG_DYNAMIC_DEBUG_CORE, and neither
CONFIG_DEBUG_LOCK_ALLOC nor CONFIG_RANDSTRUCT).

Comments, strings and character literals are blanked first, so an
`unsafe` in a SAFETY comment or a string is not counted.
"""
import re
import sys
from pathlib import Path


def blank(text):
    """`text` with comments, strings and char literals replaced by spaces
    (newlines kept, so line numbers stay)."""
    out = []
    i, n = 0, len(text)
    depth = 0  # nested block comments
    while i < n:
        c = text[i]
        two = text[i:i + 2]
        if depth:
            if two == "*/":
                depth -= 1
                out.append("  ")
                i += 2
            elif two == "/*":
                depth += 1
                out.append("  ")
                i += 2
            else:
                out.append("\n" if c == "\n" else " ")
                i += 1
        elif two == "//":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif two == "/*":
            depth = 1
            out.append("  ")
            i += 2
        elif c == '"' or (c in "bcr" and re.match(r'[bc]?r?#*"', text[i:i + 4])
                          and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            m = re.match(r'([bc]?)(r?)(#*)"', text[i:])
            if m.group(2):
                end = text.find('"' + m.group(3), i + m.end())
                j = n if end < 0 else end + 1 + len(m.group(3))
            else:
                j = i + m.end()
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                j += 1
            out.append("".join("\n" if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c == "'":
            # A char literal ('a', '\n', '\''), not a lifetime ('a).
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            if m:
                out.append(" " * m.end())
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


KERNELS = {
    "6.12": set(),
    "6.18": {"asyncn_6_18"},
    "7.x": {"asyncn_6_18", "asyncn_7_0"},
}
CONFIG_ON = {"CONFIG_BUG", "CONFIG_DYNAMIC_DEBUG_CORE"}


def cfg_true(pred, flags):
    """Evaluates a cfg predicate: names, not(), all(), any()."""
    pred = pred.strip()
    m = re.fullmatch(r"(not|all|any)\((.*)\)", pred, re.S)
    if m:
        args, depth, cur = [], 0, ""
        for ch in m.group(2):
            if ch == "," and depth == 0:
                args.append(cur)
                cur = ""
                continue
            depth += ch == "("
            depth -= ch == ")"
            cur += ch
        if cur.strip():
            args.append(cur)
        vals = [cfg_true(a, flags) for a in args]
        return {"not": lambda: not vals[0], "all": lambda: all(vals), "any": lambda: any(vals)}[m.group(1)]()
    return pred in flags or pred in CONFIG_ON


def strip_cfg(code, flags):
    """`code` without the items whose #[cfg(...)] is false for `flags`."""
    out = list(code)
    for m in re.finditer(r"#\[cfg\(", code):
        depth, j = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(code[j], 0)
            j += 1
        if cfg_true(code[m.end():j - 1], flags):
            continue
        # The item: up to the first `;` at depth 0, or through the block
        # of the first `{` (and a `;` right after it).
        k = j + 1
        while k < len(code) and code[k] not in ";{":
            k += 1
        if k < len(code) and code[k] == "{":
            depth = 0
            while True:
                depth += {"{": 1, "}": -1}.get(code[k], 0)
                if depth == 0:
                    break
                k += 1
            rest = code[k + 1:]
            if rest.lstrip().startswith(";"):
                k += 1 + (len(rest) - len(rest.lstrip()))
        for x in range(m.start(), k + 1):
            if out[x] != "\n":
                out[x] = " "
    return "".join(out)


def count(text, flags=None):
    """{"blocks", "fns", "impls", "lines"} of one file's source (what a
    kernel with the cfg `flags` compiles, when given)."""
    code = blank(text)
    if flags is not None:
        code = strip_cfg(code, flags)
    result = {"blocks": 0, "fns": 0, "impls": 0, "lines": 0}
    lines = set()
    for m in re.finditer(r"\bunsafe\b", code):
        rest = code[m.end():]
        after = rest.lstrip()
        if after.startswith("{"):
            result["blocks"] += 1
            start = m.end() + (len(rest) - len(after))
            level, j = 0, start
            while j < len(code):
                if code[j] == "{":
                    level += 1
                elif code[j] == "}":
                    level -= 1
                    if level == 0:
                        break
                j += 1
            first = code.count("\n", 0, m.start())
            for k, line in enumerate(code[m.start():j + 1].split("\n")):
                if line.strip():
                    lines.add(first + k)
        elif re.match(r"(extern\s+)?fn\s+\w", after):
            # A function, not a function pointer type (`unsafe extern "C" fn(`).
            result["fns"] += 1
        elif re.match(r"(impl|trait)\b", after):
            result["impls"] += 1
    result["lines"] = len(lines)
    return result


def self_test():
    src = '''
// unsafe { in a comment }
/* unsafe { nested /* unsafe */ } */
let s = "unsafe { in a string }";
let c = '{';
fn f<'a>(x: &'a u8) {}
unsafe fn a() {}
pub(crate) unsafe extern "C" fn b() {}
unsafe impl Send for X {}
pub unsafe trait T {}
let x = unsafe { one_line() };
let y = unsafe {
    first();
    // a comment line is not code

    second()
};
type F = unsafe extern "C" fn();
'''
    got = count(src)
    want = {"blocks": 2, "fns": 2, "impls": 2, "lines": 5}
    if got != want:
        print(f"unsafe-count self-test FAILED: {got} != {want}", file=sys.stderr)
        return 1
    versioned = '''
#[cfg(not(asyncn_6_18))]
mod backport {
    unsafe fn old() { unsafe { a() } }
}
#[cfg(asyncn_6_18)]
pub(crate) use kernel::{x, y};
#[cfg(not(asyncn_7_0))]
let v = unsafe { b() };
#[cfg(all(asyncn_6_18, not(asyncn_7_0)))]
const _: () = { unsafe { c() } };
'''
    got = {k: count(versioned, f) for k, f in KERNELS.items()}
    want = {"6.12": {"blocks": 2, "fns": 1, "impls": 0, "lines": 2},
            "6.18": {"blocks": 2, "fns": 0, "impls": 0, "lines": 2},
            "7.x": {"blocks": 0, "fns": 0, "impls": 0, "lines": 0}}
    if got != want:
        print(f"unsafe-count self-test FAILED: {got} != {want}", file=sys.stderr)
        return 1
    print("unsafe-count self-test: all checks passed")
    return 0


def main(argv):
    args = argv[1:]
    if args == ["--self-test"]:
        return self_test()
    kernel = None
    if args[:1] == ["--kernel"]:
        if len(args) < 2 or args[1] not in KERNELS:
            print(f"unsafe-count: --kernel takes one of {', '.join(KERNELS)}", file=sys.stderr)
            return 2
        kernel, args = args[1], args[2:]
    root = Path(__file__).resolve().parent.parent
    files = [Path(a) for a in args] or sorted((root / "driver").rglob("*.rs"))
    head = ("file", "blocks", "fns", "impls", "lines")
    rows, total = [], dict.fromkeys(head[1:], 0)
    texts = {f: f.read_text() for f in files}
    for f in files:
        c = count(texts[f], None if kernel is None else KERNELS[kernel])
        name = str(f.resolve().relative_to(root)) if f.resolve().is_relative_to(root) else str(f)
        rows.append((name, *(c[k] for k in head[1:])))
        for k in head[1:]:
            total[k] += c[k]
    rows.append(("total", *(total[k] for k in head[1:])))
    width = max(len(r[0]) for r in rows + [head])
    print(f"{head[0]:<{width}}  " + "  ".join(f"{h:>6}" for h in head[1:]))
    for r in rows:
        print(f"{r[0]:<{width}}  " + "  ".join(f"{v:>6}" for v in r[1:]))
    if kernel is None:
        for k, flags in KERNELS.items():
            t = dict.fromkeys(head[1:], 0)
            for f in files:
                for key, v in count(texts[f], flags).items():
                    t[key] += v
            print(f"{'compiled on ' + k:<{width}}  " + "  ".join(f"{t[h]:>6}" for h in head[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
