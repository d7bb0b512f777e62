#!/usr/bin/env python3
"""The docs check of `make test` (scripts/docs-check.sh runs it).

Over every tracked Markdown file (git ls-files '*.md') and the plain-text
READMEs of the layers, it fails on:

- a relative link (inline, reference-style, image or href) to a file that
  is not tracked in the repository, or to an anchor that no heading
  (GitHub's rule) or id="..." of that file makes; a reference to an
  undefined label;
- a document that does not start with its one H1, headings that skip a
  level, or setext headings;
- a repository path named in `code`, in a ```text block or in a plain-text
  README that does not exist (paths are tried from the top, from
  meta-asyncn/ and from buildroot-external/: those whose first part is one
  of their entries, and any other with a source file's extension);
- `make TARGET` with a target that is neither the Makefile's nor one of
  the other trees' targets listed below;
- a fenced shell block (sh, bash, shell, console, *-session) without an
  HTML comment before it that says which check runs it, or why none does:
  <!-- run-by: PATH ... --> where PATH is one of RUNNERS and the block is
  what that runner executes, or <!-- not-run: WHY -->; a ```text block of
  "$ " command lines (a shell block under another name);
- a placeholder: an upper-case word with an underscore, outside code, that
  is not a variable the docs name;
- a README.md longer than 250 lines, or without `make demo` and `make test`
  in its first 60 lines;
- too little found to check (a broken parser passes nothing).

Markdown lint (pymarkdownlnt, pinned) is run by scripts/docs-check.sh.
`--self-test` feeds it broken documents and requires each rule to fire at
the line it breaks.
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent

README_MAX_LINES = 250
README_COMMANDS_WITHIN = 60
# The trees a path in the docs may be relative to.
PATH_ROOTS = ("", "meta-asyncn", "buildroot-external")
# Plain-text documents: their paths and make targets are checked too.
TEXT_DOCS = ("meta-asyncn/README", "buildroot-external/board/asyncn/readme.txt")
# Paths of other projects' trees (or of a build's output) that look like ours.
OTHER_TREES = (
    "support/testing/run-tests",  # Buildroot's test runner
    "support/testing/tests",  # Buildroot's runtime tests (tests/package/test_asyncn.py is ours)
    "build/",  # the loop's output
    "tmp/",  # bitbake's output
    "tmp-glibc/",
    "images/",  # Buildroot's output
    "host/",
    "output/",
    "target/",
    "rust/",  # the kernel's
    "arch/",
    "include/",
    "lib/iov_iter.c",
    "io_uring/",
    "fs/",
    "kernel/",
    "mm/",
    "samples/rust/",
    "scripts/lib/checklayer",  # OE-core's
    "meta/",
)
SOURCE_EXTENSIONS = (".sh", ".py", ".rs", ".cfg", ".md", ".yml", ".bb", ".bbappend", ".inc", ".mk", ".in",
                     ".toml", ".lock", ".service", ".rules", ".mdev", ".patch", ".c", ".h", ".txt", ".conf")
# make targets of other trees: Buildroot's and the kernel's.
OTHER_MAKE_TARGETS = {
    "source": "Buildroot",
    "legal-info": "Buildroot",
    "external-deps": "Buildroot",
    "printvars": "Buildroot",
    "show-info": "Buildroot",
    "savedefconfig": "Buildroot",
    "menuconfig": "Buildroot, Linux",
    "linux-menuconfig": "Buildroot",
    "rustavailable": "Linux",
    "prepare": "Linux",
    "scripts": "Linux",
    "modules_install": "Linux",
}
SHELL_LANGUAGES = {"sh", "bash", "shell", "console", "zsh", "shellsession", "shell-session", "sh-session",
                   "bash-session", "ps1", "powershell"}

FENCE_OPEN = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(\s+#+)?\s*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
LINK_TEXT = r"\[(?:[^\[\]\\]|\\.|\[[^\[\]]*\])*\]"
LINK_TITLE = r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?"
LINK = re.compile(r"!?" + LINK_TEXT + r"\(\s*(<[^>]+>|[^)\s]+)" + LINK_TITLE + r"\s*\)")
REF_USE = re.compile(r"(?<!\])" + LINK_TEXT + r"\[([^\]]*)\]")
REF_DEF = re.compile(r"^ {0,3}\[([^\]^][^\]]*)\]:\s*<?(\S+?)>?(\s|$)")
HREF = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""")
HTML_ID = re.compile(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
COMMENT = re.compile(r"<!--.*?-->", re.S)
MARKER = re.compile(r"^\s*<!--\s*(run-by|not-run):\s*(.*?)\s*-->\s*$")
PATH_LIKE = re.compile(r"^[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.*+%-]+)*/?$")
# make as a command: at the start of a line or span, after ; && || ( or
# after sudo, time, env VAR=...; every target up to the first option.
MAKE = re.compile(r"(?:^|[;&|(])\s*(?:(?:sudo|time|env)\s+)*(?:[A-Z_]+=\S*\s+)*make((?:\s+(?:[A-Z_]+=\S*|[a-z][a-z0-9_-]*))+)")
PLACEHOLDER = re.compile(r"(?<![\w$`{/.-])([A-Z][A-Z0-9]*_[A-Z0-9_]+)(?![\w(`])")


def slug(text):
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(?<![\w])[*_]+|[*_]+(?![\w])", "", text)  # emphasis
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def is_flash_block(body):
    """What scripts/packaging-check.sh runs: `bmaptool copy IMAGE /dev/sdX`
    lines (its host/bin/bmaptool, with or without sudo), after cd lines."""
    lines = [line.split("#", 1)[0].strip() for line in body]
    lines = [line for line in lines if line]
    flashes = [line for line in lines if re.fullmatch(r"(sudo\s+)?(\S*/)?bmaptool\s+copy\s+\S+\s+/dev/sdX", line)]
    return bool(flashes) and all(line in flashes or re.fullmatch(r"cd\s+\S+", line) for line in lines)


def is_clean_room_block(doc, n, body):
    """What scripts/clean-room.sh runs: the README's block after one of its
    markers (the prerequisites, or the commands)."""
    if doc.path != "README.md":
        return False
    before = [line.strip() for line in doc.lines[max(0, n - 5):n - 1]]
    return any(re.fullmatch(r"<!-- clean-room: (prerequisites|commands) -->", line) for line in before)


# The checks a run-by comment may name, and what each executes.
RUNNERS = {
    "scripts/packaging-check.sh": lambda doc, n, body: is_flash_block(body),
    "scripts/clean-room.sh": is_clean_room_block,
}


class Doc:
    """A Markdown file split into prose lines (comments blanked) and fenced
    blocks."""

    def __init__(self, path, text):
        self.path = path
        self.lines = text.split("\n")
        if self.lines and self.lines[-1] == "":
            self.lines.pop()
        # Multi-line comments render as nothing: blank them, keeping lines.
        visible = COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), "\n".join(self.lines)).split("\n")
        self.prose = []  # (line number, text)
        self.blocks = []  # (line number of the fence, language, body lines)
        fence = None
        for n, line in enumerate(visible, 1):
            if fence is None:
                m = FENCE_OPEN.match(line)
                # A backtick fence's info string has no backtick (CommonMark).
                if m and not (m.group(2)[0] == "`" and "`" in m.group(3)):
                    info = m.group(3).strip().split()
                    fence = (m.group(2), (info[0].lower() if info else ""), n, [])
                    continue
                self.prose.append((n, line))
            else:
                close = line.strip()
                if close and set(close) == {fence[0][0]} and len(close) >= len(fence[0]):
                    self.blocks.append((fence[2], fence[1], fence[3]))
                    fence = None
                else:
                    fence[3].append(self.lines[n - 1])
        if fence is not None:
            self.blocks.append((fence[2], fence[1], fence[3]))
        self.headings = []  # (line number, level, text)
        self.setext = []
        previous = ""
        for n, line in self.prose:
            m = HEADING.match(line)
            if m:
                self.headings.append((n, len(m.group(1)), m.group(2)))
            elif SETEXT.match(line) and previous.strip() and not previous.lstrip().startswith(("-", "*", "|")):
                self.setext.append(n - 1)
            previous = line

    def anchors(self):
        seen = {}
        result = set()
        for _, _, text in self.headings:
            base = slug(text)
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else f"{base}-{count}")
        for _, line in self.prose:
            result.update(HTML_ID.findall(line))
        return result

    def paragraphs(self):
        """Runs of non-blank prose lines, joined: (first line number, text)."""
        run, first = [], None
        for n, line in self.prose + [(None, "")]:
            if line.strip() and n is not None:
                if not run:
                    first = n
                run.append(line)
            elif run:
                yield first, "\n".join(run)
                run = []


def tracked_files(top):
    try:
        out = subprocess.run(["git", "-C", str(top), "ls-files", "-z"], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    files = {f for f in out.split("\0") if f}
    return files | {str(Path(f).parents[i].as_posix()) for f in files for i in range(len(Path(f).parents) - 1)}


class Checker:
    def __init__(self, top, tracked=None):
        self.top = top
        self.tracked = tracked
        self.problems = []
        self.counts = {"links": 0, "paths": 0, "targets": 0, "blocks": 0}
        self.docs = {}
        makefile = (top / "Makefile").read_text()
        self.make_targets = set()
        for m in re.finditer(r"^([a-z][a-z0-9_ -]*):(?!=)", makefile, re.M):
            self.make_targets.update(m.group(1).split())
        self.root_entries = {}
        for root in PATH_ROOTS:
            d = top / root if root else top
            self.root_entries[root] = {p.name for p in d.iterdir() if p.name not in (".git", "build")} if d.is_dir() else set()
        # Names the docs may use outside code: those the repository's other
        # files use (C constants, variables of the scripts and build
        # systems). A name in capitals with "_" that no file has is a
        # placeholder (DEMO_COLD).
        self.variables = set()
        sources = tracked if tracked is not None else {p.relative_to(top).as_posix() for p in top.rglob("*")}
        for rel in sources:
            path = top / rel
            if rel.endswith(".md") or rel in TEXT_DOCS or rel == "scripts/docs-check.py" or not path.is_file() or path.stat().st_size > 2_000_000:
                continue
            self.variables.update(re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", path.read_text(errors="replace")))

    def problem(self, where, message):
        self.problems.append(f"{where}: {message}")

    def exists(self, rel):
        """A file or directory of the repository (tracked, when git says)."""
        rel = rel.rstrip("/")
        if self.tracked is not None:
            return rel in self.tracked
        return (self.top / rel).exists() or (self.top / rel).is_symlink()

    def doc(self, rel):
        if rel not in self.docs:
            self.docs[rel] = Doc(rel, (self.top / rel).read_text())
        return self.docs[rel]

    # --- links -------------------------------------------------------------
    def check_target(self, doc, n, target):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            return  # http:, https:, mailto:
        target = target.strip("<>")
        self.counts["links"] += 1
        file_part, _, anchor = target.partition("#")
        where = f"{doc.path}:{n}"
        if file_part:
            dest = ((self.top / doc.path).parent / file_part).resolve()
            if not dest.is_relative_to(self.top.resolve()):
                self.problem(where, f"link to {target}: outside the repository")
                return
            dest_rel = dest.relative_to(self.top.resolve()).as_posix()
            if not self.exists(dest_rel):
                self.problem(where, f"link to {target}: {file_part} is not a file of the repository")
                return
        else:
            dest_rel = doc.path
        if anchor:
            if not dest_rel.endswith(".md"):
                self.problem(where, f"link to {target}: an anchor into a file that is not Markdown")
            elif anchor not in self.doc(dest_rel).anchors():
                self.problem(where, f"link to {target}: {dest_rel} has no heading with the anchor #{anchor}")

    def check_links(self, doc):
        labels = {}
        for n, line in doc.prose:
            m = REF_DEF.match(line)
            if m:
                labels[m.group(1).lower()] = (n, m.group(2))
        for n, label_target in labels.values():
            self.check_target(doc, n, label_target)
        for first, text in doc.paragraphs():
            text = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), text)
            for regex in (LINK, HREF):
                for m in regex.finditer(text):
                    self.check_target(doc, first + text.count("\n", 0, m.start()), m.group(1))
            for m in REF_USE.finditer(text):
                label = (m.group(1) or m.group(0)[1:m.group(0).index("]")]).lower()
                if label not in labels:
                    self.problem(f"{doc.path}:{first + text.count(chr(10), 0, m.start())}",
                                 f"reference [{label}] has no definition")

    # --- headings ----------------------------------------------------------
    def check_headings(self, doc):
        for n in doc.setext:
            self.problem(f"{doc.path}:{n}", "a setext heading (underlined): use # headings")
        if not doc.headings:
            self.problem(doc.path, "no heading")
            return
        first_line, first_level, _ = doc.headings[0]
        first_text = next((n for n, line in doc.prose if line.strip()), None)
        if first_level != 1 or first_line != first_text:
            self.problem(f"{doc.path}:{first_line}", "the document does not begin with its H1 heading")
        previous = 0
        for n, level, text in doc.headings:
            if level == 1 and previous:
                self.problem(f"{doc.path}:{n}", f"a second H1 heading: {text}")
            if previous and level > previous + 1:
                self.problem(f"{doc.path}:{n}", f"heading level jumps from H{previous} to H{level}: {text}")
            previous = level

    # --- paths, make targets, placeholders -----------------------------------
    def check_path(self, where, token):
        token = token.strip().strip("`'\",;:()[]").rstrip(".")
        if not PATH_LIKE.match(token) or "/" not in token or token.startswith(("/", "./", "../")):
            return
        if any(token == p.rstrip("/") or token.startswith(p if p.endswith("/") else p + "/") or token == p
               for p in OTHER_TREES):
            return
        first = token.split("/", 1)[0]
        roots = [r for r in PATH_ROOTS if first in self.root_entries[r]]
        if not roots:
            if not token.endswith(SOURCE_EXTENSIONS):
                return
            roots = list(PATH_ROOTS)
        self.counts["paths"] += 1
        for root in roots:
            rel = f"{root}/{token}" if root else token
            if "*" in token:
                base = self.top / root if root else self.top
                if any(self.exists(p.relative_to(self.top).as_posix()) for p in base.glob(token.rstrip("/"))):
                    return
            elif self.exists(rel):
                return
        tried = ", ".join(f"{r}/" if r else "the top" for r in roots)
        self.problem(where, f"`{token}` is not a file of the repository (tried from {tried})")

    def check_make(self, where, text):
        for m in MAKE.finditer(text):
            targets = []
            for word in m.group(1).split():
                if "=" in word:
                    if targets:
                        break  # the arguments after the targets
                    continue
                targets.append(word)
            for word in targets:
                self.counts["targets"] += 1
                if word not in self.make_targets and word not in OTHER_MAKE_TARGETS:
                    self.problem(where, f"`make {word}`: the Makefile has no target {word}")

    def check_placeholders(self, where, line):
        text = CODE_SPAN.sub(" ", line)
        for m in PLACEHOLDER.finditer(text):
            if m.group(1) not in self.variables:
                self.problem(where, f"{m.group(1)}: a placeholder, or a variable outside `code`")

    def check_names(self, doc, plain=False):
        for n, line in doc.prose:
            where = f"{doc.path}:{n}"
            spans = [line] if plain else [m.group(2) for m in CODE_SPAN.finditer(line)]
            for span in spans:
                for token in span.split():
                    self.check_path(where, token)
                # In plain text, commands are the indented lines.
                if not plain or line.startswith("  "):
                    self.check_make(where, span)
            if not plain:
                self.check_placeholders(where, line)
        for n, lang, body in doc.blocks:
            for k, line in enumerate(body, n + 1):
                where = f"{doc.path}:{k}"
                if lang in SHELL_LANGUAGES:
                    self.check_make(where, line.split("#", 1)[0])
                elif lang == "text":
                    for token in line.split():
                        self.check_path(where, token)

    # --- shell blocks --------------------------------------------------------
    def check_blocks(self, doc):
        for n, lang, body in doc.blocks:
            where = f"{doc.path}:{n}"
            if not lang:
                self.problem(where, "a fenced block without a language (```sh, ```text, ...)")
                continue
            if lang == "text" and any(line.lstrip().startswith("$ ") for line in body):
                self.problem(where, "a ```text block of $ commands: make it a shell block, with its run-by or not-run")
            if lang not in SHELL_LANGUAGES:
                continue
            self.counts["blocks"] += 1
            k = n - 2
            if k >= 0 and not doc.lines[k].strip():
                k -= 1
            m = MARKER.match(doc.lines[k]) if k >= 0 else None
            if not m:
                self.problem(where, f"a ```{lang} block without <!-- run-by: PATH --> or <!-- not-run: WHY --> before it")
                continue
            kind, value = m.groups()
            if kind == "not-run":
                if len(value.split()) < 3:
                    self.problem(where, f"not-run without a reason: {value!r}")
                continue
            runner = value.split()[0] if value else ""
            if runner not in RUNNERS:
                self.problem(where, f"run-by {runner!r}: not one of the checks that run docs' blocks ({', '.join(RUNNERS)})")
            elif not self.exists(runner):
                self.problem(where, f"run-by {runner}, which is not a file of the repository")
            elif not RUNNERS[runner](doc, n, body):
                self.problem(where, f"run-by {runner}, which does not run this block as written")

    def check_readme(self):
        doc = self.doc("README.md")
        if len(doc.lines) > README_MAX_LINES:
            self.problem("README.md", f"{len(doc.lines)} lines, more than {README_MAX_LINES}")
        head = "\n".join(doc.lines[:README_COMMANDS_WITHIN])
        for command in ("make demo", "make test"):
            if command not in head:
                self.problem("README.md", f"`{command}` is not in the first {README_COMMANDS_WITHIN} lines")

    def run(self, markdown, plain):
        for rel in markdown:
            doc = self.doc(rel)
            self.check_headings(doc)
            self.check_links(doc)
            self.check_names(doc)
            self.check_blocks(doc)
        for rel in plain:
            text = (self.top / rel).read_text()
            self.check_names(Doc(rel, "\n".join("" if FENCE_OPEN.match(line) else line for line in text.split("\n"))),
                             plain=True)
        if "README.md" in markdown:
            self.check_readme()
        return self.problems


def markdown_files(top, tracked):
    """The tracked Markdown files (without git: every one outside build/)."""
    if tracked is not None:
        return sorted(f for f in tracked if f.endswith(".md") and (top / f).is_file())
    return sorted(p.relative_to(top).as_posix() for p in top.rglob("*.md") if "build" not in p.parts)


GOOD = """# A

## Part one

See [b](b.md#part-two), [a](#part-one), [c][ref], `scripts/real.sh`, `board/asyncn/x/`, `make demo test`.
A link [across
lines](b.md) and a [titled](b.md 'T') one; `KAS_WORK_DIR` in code.

[ref]: b.md

<!-- run-by: scripts/packaging-check.sh -->

```sh
cd ~/somewhere
sudo bmaptool copy images/sdcard.img /dev/sdX
```

<!-- not-run: for a board's shell only -->

```sh
make test
```
"""


def self_test():
    """Each rule must fire, at the line it breaks, on a document that breaks it."""
    g = GOOD
    cases = {
        "a link to a missing file": ("docs/a.md", g.replace("[b](b.md#part-two)", "[b](missing.md)"), 5, "is not a file of the repository"),
        "a link to an untracked file": ("docs/a.md", g.replace("[b](b.md#part-two)", "[b](untracked.md)"), 5, "is not a file of the repository"),
        "a link out of the repository": ("docs/a.md", g.replace("[b](b.md#part-two)", "[b](../../etc/passwd)"), 5, "outside the repository"),
        "a link to a missing anchor": ("docs/a.md", g.replace("(#part-one)", "(#unreal-part)"), 5, "no heading with the anchor"),
        "an anchor into a file that is not Markdown": ("docs/a.md", g.replace("(b.md#part-two)", "(c.txt#x)"), 5, "not Markdown"),
        "a second duplicate anchor": ("docs/a.md", g.replace("(#part-one)", "(#part-one-1)"), 5, "no heading with the anchor"),
        "a wrapped link to a missing file": ("docs/a.md", g.replace("lines](b.md)", "lines](nowhere.md)"), 6, "is not a file"),
        "a titled link to a missing file": ("docs/a.md", g.replace("[titled](b.md 'T')", "[titled](none.md 'T')"), 7, "is not a file"),
        "an image of a missing file": ("docs/a.md", g.replace("`make demo test`.", "`make demo test`. ![i](i.png)"), 5, "is not a file"),
        "a reference to a missing file": ("docs/a.md", g.replace("[ref]: b.md", "[ref]: gone.md"), 9, "is not a file"),
        "a reference without a definition": ("docs/a.md", g.replace("[c][ref]", "[c][nothing]"), 5, "has no definition"),
        "an href to a missing file": ("docs/a.md", g.replace("in code.", 'in code. <a href="gone.md">x</a>'), 7, "is not a file"),
        "a skipped level": ("docs/a.md", g.replace("## Part one", "### Part one"), 3, "jumps from H1 to H3"),
        "a second H1": ("docs/a.md", g.replace("## Part one", "# Part one"), 3, "a second H1"),
        "no H1 first": ("docs/a.md", "Text.\n\n" + g, 3, "does not begin with its H1"),
        "a setext heading": ("docs/a.md", g.replace("## Part one\n", "## Part one\n\nTitle\n-----\n"), 5, "setext"),
        "a missing path": ("docs/a.md", g.replace("`scripts/real.sh`", "`scripts/nothing.sh`"), 5, "is not a file of the repository"),
        "a missing path with arguments": ("docs/a.md", g.replace("`scripts/real.sh`", "`scripts/nothing.sh --x`"), 5, "is not a file"),
        "a missing board path": ("docs/a.md", g.replace("`board/asyncn/x/`", "`board/asyncn/pi9/`"), 5, "is not a file"),
        "a misspelt top directory": ("docs/a.md", g.replace("`scripts/real.sh`", "`scirpts/real.sh`"), 5, "is not a file"),
        "a missing path in a text block": ("docs/a.md", g + "\n```text\nscripts/gone.sh  what\n```\n", 25, "is not a file"),
        "a missing make target": ("docs/a.md", g.replace("`make demo test`", "`make demo nothing`"), 5, "no target nothing"),
        "a missing make target after sudo": ("docs/a.md", g.replace("`make demo test`", "`sudo make nothing`"), 5, "no target nothing"),
        "a missing make target in a shell block": ("docs/a.md", g.replace("make test\n```", "make nothing\n```"), 21, "no target nothing"),
        "a placeholder": ("docs/a.md", g.replace("in code.", "in code, DEMO_COLD."), 7, "placeholder"),
        "an unmarked shell block": ("docs/a.md", g.replace("<!-- not-run: for a board's shell only -->\n", ""), 19, "without <!-- run-by"),
        "an unmarked ~~~ block": ("docs/a.md", g + "\n~~~bash\nls\n~~~\n", 24, "without <!-- run-by"),
        "an unmarked block in a nested list": ("docs/a.md", g + "\n- one\n  - two\n\n    ```sh\n    ls\n    ```\n", 27, "without <!-- run-by"),
        "an unmarked session block": ("docs/a.md", g + "\n```shell-session\n$ ls\n```\n", 24, "without <!-- run-by"),
        "commands in a text block": ("docs/a.md", g + "\n```text\n$ make test\n```\n", 24, "$ commands"),
        "a fence without a language": ("docs/a.md", g + "\n```\nls\n```\n", 24, "without a language"),
        "run-by a script that is not a runner": ("docs/a.md", g.replace("run-by: scripts/packaging-check.sh", "run-by: scripts/real.sh"), 13, "not one of the checks"),
        "run-by a runner that is not there": ("docs/a.md", g, 13, "not a file of the repository"),
        "run-by a block it does not run": ("docs/a.md", g.replace("cd ~/somewhere\n", "cd ~/somewhere\nsudo dd if=x of=/dev/sdX\n"), 13, "does not run this block"),
        "not-run without a reason": ("docs/a.md", g.replace("not-run: for a board's shell only", "not-run: no"), 20, "without a reason"),
        "a plain README with a missing path": ("meta-asyncn/README", "Read scripts/none.sh first.\n", 1, "is not a file"),
        "a plain README with a missing target": ("meta-asyncn/README", "Then:\n\n  make nothing\n", 3, "no target nothing"),
        "a long README": ("README.md", "# R\n\nmake demo, make test\n" + "x\n\n" * 130, None, "more than 250"),
        "a README without the commands early": ("README.md", "# R\n" + "x\n\n" * 40 + "make demo\nmake test\n", None, "not in the first 60"),
    }
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp)
        for d in ("docs", "scripts", "meta-asyncn", "buildroot-external/board/asyncn/x"):
            (top / d).mkdir(parents=True)
        files = {"scripts/real.sh": "# real\n", "scripts/packaging-check.sh": "# flash\n", "Makefile": "demo test:\n\techo\n",
                 "docs/b.md": "# B\n\n## Part two\n", "docs/c.txt": "c\n", "buildroot-external/board/asyncn/x/f": "",
                 "README.md": "# R\n\nmake demo\nmake test\n", "docs/a.md": GOOD, "meta-asyncn/README": "Plain.\n"}
        for rel, text in files.items():
            (top / rel).write_text(text)
        (top / "docs/untracked.md").write_text("# U\n")
        tracked = set(files) - {"docs/untracked.md"}
        tracked |= {str(Path(f).parents[i].as_posix()) for f in tracked for i in range(len(Path(f).parents) - 1)}
        plain = ["meta-asyncn/README"]
        problems = Checker(top, tracked).run(["README.md", "docs/a.md", "docs/b.md"], plain)
        if problems:
            failures.append(f"the good documents: {problems}")
        for name, (rel, text, line, expected) in cases.items():
            for f, t in files.items():
                (top / f).write_text(text if f == rel else t)
            t = set(tracked)
            if name == "run-by a runner that is not there":
                t.discard("scripts/packaging-check.sh")
            problems = Checker(top, t).run(["README.md", "docs/a.md", "docs/b.md"], plain)
            at = f"{rel}:{line}: " if line else f"{rel}: "
            if not any(p.startswith(at) and expected in p for p in problems):
                failures.append(f"{name}: expected '{at}...{expected}', got {problems}")
    for f in failures:
        print(f"docs-check self-test: FAIL {f}", file=sys.stderr)
    print(f"docs-check self-test: {len(cases) + 1 - len(failures)} of {len(cases) + 1} cases as expected")
    return 1 if failures else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    tracked = tracked_files(TOP)
    markdown = markdown_files(TOP, tracked)
    plain = [p for p in TEXT_DOCS if (TOP / p).exists()]
    checker = Checker(TOP, tracked)
    problems = checker.run(markdown, plain)
    c = checker.counts
    # Against a parser that finds nothing: today's docs have hundreds of each.
    if len(plain) != len(TEXT_DOCS) or min(c.values()) < 10:
        problems.append(f"too little found to check ({len(plain)} text files, {c}): has the parser broken?")
    for p in problems:
        print(f"docs-check: {p}", file=sys.stderr)
    readme_lines = len(checker.doc("README.md").lines)
    print(f"docs-check: {len(markdown)} Markdown files and {len(plain)} text files; {c['links']} relative links, "
          f"{c['paths']} repository paths, {c['targets']} make targets, {c['blocks']} shell blocks checked; "
          f"README.md {readme_lines} lines; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
