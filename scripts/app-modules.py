#!/usr/bin/env python3
"""The module graph of asyncn-test (app/src), checked.

Prints each module and the modules of the crate it uses, and fails when
  - the graph has a cycle (modules that use each other, directly or not);
  - a module other than `cases` itself uses the case registry
    (`crate::cases`): case files take what they share from `crate::harness`;
  - `harness` uses a case;
  - `unsafe`, or a call into `libc`, is outside `sys` (constants such as
    `libc::EFAULT` are fine; the compiler checks the same through
    `#[deny(unsafe_code)]` on every other module in main.rs).
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


def use_trees(text):
    """Each path a `use` brings in, with nested groups expanded:
    `use crate::{a, b::{c, d}}` gives crate::a, crate::b::c, crate::b::d."""
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        stack = [[]]
        prefix, tokens = [], re.findall(r"\w+|::|\{|\}|,", m.group(1))
        current = []
        for tok in tokens:
            if tok == "{":
                stack.append(current)
                current = []
            elif tok == "}":
                if current:
                    paths.append(sum(stack[1:], []) + current)
                current = stack.pop()[:] if len(stack) > 1 else []
                current = []
            elif tok == ",":
                if current:
                    paths.append(sum(stack[1:], []) + current)
                current = []
            elif tok != "::":
                current.append(tok)
        if current:
            paths.append(sum(stack[1:], []) + current)
    return paths


def uses(module, path):
    text = code_of(path)
    found = set()
    here = [] if module == "crate" else module.split("::")
    # `mod.rs` and `main.rs` name their children's items relatively.
    children = set(re.findall(r"^\s*(?:pub\s+)?mod\s+(\w+);", text, re.M))
    paths = [p for p in use_trees(text) if p and p[0] in ("crate", "super", "self")]
    paths += [m.group(0).split("::") for m in re.finditer(r"\b(?:crate|super)(?:::\w+)+", text)]
    for child in children:
        if re.search(rf"(?<![\w:]){child}::", text):
            found.add("::".join(here + [child]))
    # `mod.rs` is its module; any other file's `super` is its parent.
    directory = here if path.name == "mod.rs" or module == "crate" else here[:-1]
    for parts in paths:
        base = list(directory) if parts[0] != "crate" else []
        rest = parts[1:]
        if parts[0] == "self":
            base = list(here)
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
        if parts[0] == "super":
            base = base[:-1] if path.name == "mod.rs" else base
        target = resolve(base + rest)
        if target and target != module:
            found.add(target)
    return found


graph = {m: sorted(uses(m, p)) for m, p in modules.items()}
problems = []

for m, p in modules.items():
    if m == "sys" or m.startswith("sys::"):
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

# Cycles between top-level modules too (a child of one using another that
# uses the first back): the graph of the crate's own modules.
top = {}
for m, deps in graph.items():
    t = m.split("::")[0]
    top.setdefault(t, set()).update(d.split("::")[0] for d in deps if d.split("::")[0] != t)
state.clear()
graph_full, graph = graph, {t: sorted(d) for t, d in top.items()}
for m in graph:
    if m not in state:
        visit(m, [])
graph = graph_full

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
    "unsafe and libc calls only in sys"
)
