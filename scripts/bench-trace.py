#!/usr/bin/env python3
"""Where the slowest latency samples of `make bench FLAVOUR=trace` spend
their time, from the ftrace function-graph trace each run printed between
ASYNCN-BENCH-TRACE-BEGIN and -END.

The guest traces the writer's write(2) (vfs_write) and sigqueue(3) calls
with a duration threshold (tracing_thresh): only calls slower than it are
recorded, each as the exits of its functions that took longer than the
threshold, innermost first, indented by depth. asyncn-test marks each
peer's turn in the trace, and the calls of the task that wrote the marks
(the writer: funcgraph-proc's task column; without it, its CPU) are the
ones counted. Per peer, this prints how many calls were slow, the deepest slow
functions ("leaves": where the time went), how many slow calls had an
interrupt inside, and the trace of the slowest call: the excerpt the
docs/benchmarks.md quotes.

The driver's Rust functions are not in the trace: on these kernels only C
is built with the compiler's function-entry hooks. Time asyncn spends in
its own code shows as the time of the C function that called it
(vfs_write), while the C baseline's functions are hooked and traced.

Usage: bench-trace.py <out dir> <run log>...   (writes <out>/trace-<n>.txt)
"""
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

# "  84.123456 |   0)  asyncn--93   | ! 612.345 us  |      } /* try_to_wake_up */"
# (the time and task columns are there with funcgraph-abstime/-proc).
COLUMNS = r"^\s*(?:[\d.]+\s*\|\s*)?(?P<cpu>\d+)\)\s+(?:(?P<task>\S+)\s+\|)?"
EXIT = re.compile(COLUMNS + r"\s*[!#*@$+]?\s*(?P<us>[\d.]+) us\s*\|(?P<indent>\s*)\} /\* (?P<fn>\S+) \*/")
MARK = re.compile(COLUMNS + r".*/\* asyncn-bench: round (?P<round>\d+), (?P<peer>\S+) from here \*/")
# The calls traced from their entry (set_graph_function in guest-init).
OUTER = {"vfs_write", "__arm64_sys_rt_sigqueueinfo"}
# A leaf under one of these ran in an interrupt, not in the call's own work.
INTERRUPT = {"do_interrupt_handler", "gic_handle_irq", "irq_exit_rcu", "el1_interrupt"}


class Call:
    """One slow call: its exit lines, innermost first."""

    def __init__(self, peer, rnd, run):
        self.peer, self.round, self.run = peer, rnd, run
        self.lines = []  # (depth, function, us, raw line)

    @property
    def us(self):
        return self.lines[-1][2]

    def leaves(self):
        """(function, us, in an interrupt) of each deepest slow function."""
        out = []
        for i, (depth, fn, us, _) in enumerate(self.lines):
            if i > 0 and self.lines[i - 1][0] > depth:
                continue  # the parent of the line before: not a leaf
            # Its ancestors: the later lines, each shallower than the last.
            ancestors, level = [], depth
            for d, f, _, _ in self.lines[i + 1:]:
                if d < level:
                    ancestors.append(f)
                    level = d
            out.append((fn, us, any(f in INTERRUPT for f in [fn, *ancestors])))
        return out


def writer_of(match):
    """Who wrote a line: the task column's pid, or else the CPU."""
    return ("pid", match["task"].rsplit("-", 1)[-1]) if match["task"] else ("cpu", match["cpu"])


def slow_calls(trace, run):
    """The writer's slow calls (the task that wrote the marks)."""
    call, writer = None, None
    for line in trace.splitlines():
        m = MARK.search(line)
        if m:
            call, writer = Call(m["peer"], int(m["round"]), run), writer_of(m)
            continue
        m = EXIT.search(line)
        if not m or call is None or writer_of(m) != writer:
            continue
        call.lines.append((len(m["indent"]), m["fn"], float(m["us"]), line))
        if m["fn"] in OUTER:
            yield call
            call = Call(call.peer, call.round, run)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    calls = defaultdict(list)
    for i, log in enumerate(sys.argv[2:], 1):
        text = Path(log).read_text(errors="replace").replace("\r\n", "\n")
        try:
            trace = text.split("ASYNCN-BENCH-TRACE-BEGIN\n", 1)[1].split("ASYNCN-BENCH-TRACE-END", 1)[0]
        except IndexError:
            sys.exit(f"bench-trace: no trace in {log} (not a FLAVOUR=trace run?)")
        (out / f"trace-{i}.txt").write_text(trace)
        for call in slow_calls(trace, i):
            calls[call.peer].append(call)
    if not calls:
        print("\nbench-trace: no call of the writer was slower than the threshold")
        return
    print("\nThe writer's slow calls (over the guest's tracing_thresh), per peer: the deepest slow")
    print("functions in them (where the time went; \"irq:\" = in an interrupt), with counts.")
    print("(asyncn's own Rust code is not hooked: its time shows as vfs_write's.)")
    for peer, slow in sorted(calls.items()):
        leaves = Counter()
        interrupted = 0
        for call in slow:
            found = call.leaves()
            interrupted += any(irq for _, _, irq in found)
            leaves.update(("irq:" if irq else "") + fn for fn, _, irq in found)
        top = ", ".join(f"{fn} {n}" for fn, n in leaves.most_common(5))
        print(f"  {peer:<13} {len(slow):>4} slow, {interrupted:>3} with an interrupt inside; {top}")
    print("\nThe slowest call of each peer, as traced:")
    for peer, slow in sorted(calls.items()):
        call = max(slow, key=lambda c: c.us)
        print(f"  {peer}: {call.us:.0f} us (run {call.run}, round {call.round})")
        for _, _, _, raw in call.lines:
            print("    " + raw.strip())
    print(f"saved: {', '.join(str(out / f'trace-{i}.txt') for i in range(1, len(sys.argv) - 1))}")


if __name__ == "__main__":
    main()
