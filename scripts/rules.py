#!/usr/bin/env python3
"""The contract's traceability: every rule has a check and a mutant.

Reads the rules of docs/device.md ("- **R1** ..."), the rules each
asyncn-test case names (`rules: &["R1", ...]` in app/src/cases/mod.rs), the
"checks R1, R2" tags in the comments of the app's other checks (stress
invariants, fuzz oracles) and the scripts (the guest runner's judgement of
kernel reports), and the "Rule:" line of each mutant in tests/mutants/.
Prints the table of rules, checks and mutants. Fails on a rule with no
check or no mutant, and on a case, tag or mutant naming a rule that does
not exist.

`rules.py --self-test` checks that it fails on such input;
`rules.py --rules-of CASE` prints the rules a case names (make mutants).
"""

import pathlib
import re
import sys

TOP = pathlib.Path(__file__).resolve().parent.parent
RULE = re.compile(r"^- \*\*(R\d+)\*\* (.+)$")
CASE = re.compile(r'name: "([a-z0-9-]+)",\s*rules: &\[([^\]]*)\]', re.S)
TAG = re.compile(r"(?://!?|#)[^\n]*?\bchecks ((?:R\d+)(?:(?:,\s*(?://!?|#)?\s*|\s+and\s+)R\d+)*)")
MUTANT_RULE = re.compile(r"^Rule: ((?:R\d+)(?:, R\d+)*)$", re.M)
NUMBER = re.compile(r"R\d+")


class Problem(Exception):
    """Input this script cannot read as it must be."""


def rules_of(text):
    """{"R1": "sentence", ...} in document order; a number given twice is
    a problem."""
    rules = {}
    for m in filter(None, map(RULE.match, text.splitlines())):
        if m.group(1) in rules:
            raise Problem(f"docs/device.md states {m.group(1)} twice")
        rules[m.group(1)] = m.group(2)
    return rules


def case_checks(text):
    """[(case name, [rules])] from the case registry; a case whose `rules`
    does not follow its `name` is a problem (it would go unread)."""
    cases = [(m.group(1), NUMBER.findall(m.group(2))) for m in CASE.finditer(text)]
    names = len(re.findall(r'^\s*name: "', text, re.M))
    if len(cases) != names:
        raise Problem(f"app/src/cases/mod.rs: {names} cases, {len(cases)} with `rules` right after `name`")
    return cases


def tagged_checks(name, text):
    """[(where, [rules])] for each "checks R..." tag in a source file."""
    found = []
    for m in TAG.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        found.append((f"{name}:{line}", NUMBER.findall(m.group(1))))
    return found


def mutant_rules(name, text):
    """[(mutant, [rules])]: a mutant's "Rule:" line (none: an empty list)."""
    head = text.split("\n--- ", 1)[0]
    m = MUTANT_RULE.search(head)
    return [(name, NUMBER.findall(m.group(1)) if m else [])]


def judge(rules, checks, mutants):
    """The table's rows and the problems found."""
    problems = []
    by_rule = {r: ([], []) for r in rules}
    for kind, items in (("check", checks), ("mutant", mutants)):
        for where, named in items:
            if kind == "mutant" and not named:
                problems.append(f"mutant {where} names no rule (a 'Rule: Rn' line)")
            for r in named:
                if r not in by_rule:
                    problems.append(f"{kind} {where} names {r}, which docs/device.md does not have")
                    continue
                by_rule[r][0 if kind == "check" else 1].append(where)
    rows = []
    for r, (c, m) in by_rule.items():
        if not c:
            problems.append(f"{r} has no check")
        if not m:
            problems.append(f"{r} has no mutant")
        rows.append((r, c, m))
    return rows, problems


def gather():
    rules = rules_of((TOP / "docs/device.md").read_text())
    checks = case_checks((TOP / "app/src/cases/mod.rs").read_text())
    sources = sorted((TOP / "app/src").rglob("*.rs")) + sorted((TOP / "scripts").glob("*.sh"))
    for path in sources:
        if path.name == "mod.rs" and path.parent.name == "cases":
            continue
        checks += tagged_checks(str(path.relative_to(TOP)), path.read_text())
    mutants = []
    for path in sorted((TOP / "tests/mutants").glob("*.patch")):
        mutants += mutant_rules(path.stem, path.read_text())
    return rules, checks, mutants


def short(items, limit=4):
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit})" if len(items) > limit else "")


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def self_test():
    doc = "- **R1** One.\n- **R2** Two.\n"
    rules = rules_of(doc)
    expect(list(rules) == ["R1", "R2"], rules)
    for bad, why in ((doc + "- **R2** Again.\n", "twice"),):
        try:
            rules_of(bad)
            expect(False, f"no problem found with a rule stated {why}")
        except Problem:
            pass
    try:
        case_checks('Case {\n        name: "a",\n        about: "x",\n        rules: &["R1"],\n')
        expect(False, "a case with `rules` after `about` went unnoticed")
    except Problem:
        pass
    reg = 'Case {\n        name: "a",\n        rules: &["R1", "R2"],\n'
    expect(case_checks(reg) == [("a", ["R1", "R2"])], "a case's rules")
    expect(tagged_checks("f", "//! whole (checks R6, R11,\n//! R12).\n") == [("f:1", ["R6", "R11", "R12"])], "a tag over two lines")
    expect(tagged_checks("f", "# report (checks R30).\n") == [("f:1", ["R30"])], "a shell tag")
    expect(mutant_rules("m", "Mutant: x\nRule: R2\n\n--- a/x\n") == [("m", ["R2"])], "a mutant's rule")
    # A rule with no mutant, one with no check, an unknown rule, no Rule line.
    _, problems = judge(rules, [("a", ["R1"])], [("m", ["R1"]), ("n", ["R9"]), ("o", [])])
    expect("R2 has no check" in problems and "R2 has no mutant" in problems, problems)
    expect(any("R9" in p for p in problems) and any("names no rule" in p for p in problems), problems)
    _, problems = judge(rules, [("a", ["R1", "R2"])], [("m", ["R1"]), ("n", ["R2"])])
    expect(problems == [], problems)
    print("rules.py: self-test passed")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "--rules-of":
        cases = dict(case_checks((TOP / "app/src/cases/mod.rs").read_text()))
        print(" ".join(cases.get(sys.argv[2], [])))
        return 0
    try:
        rules, checks, mutants = gather()
    except Problem as e:
        print(f"rules.py: {e}", file=sys.stderr)
        return 1
    if not rules:
        print("rules.py: docs/device.md has no rules ('- **R1** ...')", file=sys.stderr)
        return 1
    rows, problems = judge(rules, checks, mutants)
    print(f"{'rule':<5} {'checks':<58} mutants")
    for r, c, m in rows:
        print(f"{r:<5} {short(c):<58} {short(m, 3)}")
    print(f"{len(rules)} rules; {len(checks)} checks and {len(mutants)} mutants name them")
    sys.stdout.flush()
    for p in problems:
        print(f"rules.py: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
