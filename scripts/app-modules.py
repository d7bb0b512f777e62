#!/usr/bin/env python3
"""The module graph of asyncn-test (app/src), checked.

Prints each module and the modules of the crate it uses, and fails when
  - the graph has a cycle (modules that use each other, directly or not);
  - a module other than `cases` itself uses the case registry
    (`crate::cases`): case files take what they share from `crate::harness`;
  - `harness` uses a case;
  - `unsafe`, or a call into `libc`, is outside `sys` (constants such as
    `libc::EFAULT` are fine), but in the modules of UNSAFE_OUTSIDE_SYS.
Test modules (`#[cfg(test)] mod tests`) are left out: they may use anything.

Usage: app-modules.py [APP_SRC]   (default: app/src of this repository)
"""
import pathlib
import re
import sys

src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent / "app" / "src")


def module_of(path):
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "mod":
        parts.pop()
    if parts == ["main"]:
        return "crate"
    return "::".join(parts)


modules = {module_of(p): p for p in sorted(src.rglob("*.rs"))}


def strip(text):
    """Rust source without comments, string and character literals."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif m := re.match(r'b?r(#*)"', text[i:]):
            end = text.find('"' + m.group(1), i + len(m.group(0)))
            i = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""')
        elif c == '"' or text.startswith('b"', i):
            i += 1 if c == '"' else 2
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif m := re.match(r"b?'(\\.[^']*|[^'\\])'", text[i:]):
            i += len(m.group(0))
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def code_of(path):
    # Tests may use anything; comments and strings are not uses.
    text = strip(path.read_text())
    return re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]


def resolve(parts):
    """The longest module that a path (crate-relative parts) names."""
    for n in range(len(parts), 0, -1):
        name = "::".join(parts[:n])
        if name in modules:
            return name
    return None


def uses(module, path):
    text = code_of(path)
    found = set()
    here = [] if module == "crate" else module.split("::")
    # `mod.rs` and `main.rs` name their children's items relatively.
    children = set(re.findall(r"^\s*(?:pub\s+)?mod\s+(\w+);", text, re.M))
    paths = []
    # `use crate::{a, b::c};` groups, one level deep.
    for prefix, group in re.findall(r"\b(crate|super)::\{([^}]*)\}", text):
        for item in group.split(","):
            item = item.strip()
            if item:
                paths.append((prefix, item.split("::")))
    for prefix, rest in re.findall(r"\b(crate|super)((?:::\w+)+)", text):
        paths.append((prefix, rest.strip(":").split("::")))
    for child in children:
        if re.search(rf"(?<![\w:]){child}::", text):
            found.add("::".join(here + [child]))
    for prefix, parts in paths:
        base = [] if prefix == "crate" else here[:-1]
        target = resolve(base + [p for p in parts if p != "self"])
        if target and target != module:
            found.add(target)
    return found


# The one module that still makes raw system calls itself: the fuzzer's
# random calls with raw descriptors and pointers.
UNSAFE_OUTSIDE_SYS = {"fuzz"}

graph = {m: sorted(uses(m, p)) for m, p in modules.items()}
problems = []

for m, p in modules.items():
    if m == "sys" or m.startswith("sys::") or m in UNSAFE_OUTSIDE_SYS:
        continue
    text = strip(p.read_text())
    for n, line in enumerate(text.split("\n"), 1):
        if re.search(r"\bunsafe\b|\blibc::[a-z_0-9]+\s*\(", line):
            problems.append(f"{p.relative_to(src)}:{n}: unsafe or a libc call outside sys: {line.strip()}")

# Cycles: depth-first search, reporting each back edge's loop.
state = {}


def visit(m, stack):
    state[m] = "open"
    stack.append(m)
    for n in graph[m]:
        if state.get(n) == "open":
            problems.append("cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
        elif n not in state:
            visit(n, stack)
    stack.pop()
    state[m] = "done"


for m in graph:
    if m not in state:
        visit(m, [])

for m, deps in graph.items():
    if m != "crate" and "cases" in deps:
        problems.append(f"{m} uses the case registry (crate::cases); share through crate::harness")
    if m.startswith("harness") and any(d.startswith("cases") for d in deps):
        problems.append(f"{m} uses a case")

width = max(len(m) for m in graph)
for m in sorted(graph, key=lambda m: (m != "crate", m)):
    print(f"{m:<{width}}  -> {', '.join(graph[m]) or '(nothing of the crate)'}")
for p in problems:
    print(f"app-modules: {p}", file=sys.stderr)
if problems:
    sys.exit(1)
print(
    f"app-modules: {len(graph)} modules, no cycle; only the crate root uses the case registry; "
    f"unsafe and libc calls only in sys (and {', '.join(sorted(UNSAFE_OUTSIDE_SYS))})"
)
