#!/usr/bin/env python3
"""The report of `make bench`. Each guest boot (a run) prints the figures of
`asyncn-test bench` as one JSON object between the lines
ASYNCN-BENCH-JSON-BEGIN and ASYNCN-BENCH-JSON-END of its console log. This
takes the runs' logs and writes:

  a table across runs (each peer's median, asyncn's cost ratios as
  median [min-max]), the check of TARGETS below, the slowest samples;
  <out>/bench.json: {"runs": [every run whole], "summary": {...}};
  <out>/latency-cdf.{png,svg}: latency distribution per peer, and its tail;
  <out>/cost-per-write.{png,svg}: time per write against subscribers.

Usage: bench-report.py <output dir> <run log>...
       bench-report.py --self-test   (the ratio and target logic)

Exit status: 0 every target met, 1 a target missed, 2 unusable input.
"""
import io
import json
import re
import statistics
import sys
import textwrap
from collections import namedtuple
from contextlib import redirect_stdout
from pathlib import Path

# --- The targets -----------------------------------------------------------
# Each compares a subject's cost with a peer's on one figure. The ratio is
# subject/peer for latencies and peer/subject for rates, so above 1 always
# means the subject is slower. rule "median": the median of the per-run
# ratios must be <= limit (a run is one boot; the median keeps one disturbed
# boot from deciding). rule "every": each run's ratio must be <= limit (the
# max is a single sample per run: a bound on every run keeps a real stall
# from hiding behind a median). A figure either side lacks is a miss.
Target = namedtuple("Target", "figure subject peer limit rule")
# One write with 64 EPOLLEXCLUSIVE waiters: the waiters it wakes (one, as
# wake_up_interruptible_poll() promises; a herd shows as 64) and its time.
EXCLUSIVE_WOKEN = "64 EPOLLEXCLUSIVE waiters, woken per write"
EXCLUSIVE_TIME = "64 EPOLLEXCLUSIVE waiters, time per write"
TARGETS = [
    Target("latency p50", "asyncn", "c", 1.05, "median"),
    Target("latency p99", "asyncn", "c", 1.05, "median"),
    Target("latency p99.9", "asyncn", "c", 1.05, "median"),
    Target("latency max", "asyncn", "c", 1.50, "every"),
    Target("write+notify, 0 subscribers", "asyncn", "c", 1.05, "median"),
    Target("write+notify, 1 subscriber", "asyncn", "c", 1.05, "median"),
    Target("write+notify, 16 subscribers", "asyncn", "c", 1.05, "median"),
    Target("write+notify, 256 subscribers", "asyncn", "c", 1.05, "median"),
    Target("last of 1 notified", "asyncn", "c", 1.05, "median"),
    Target("last of 16 notified", "asyncn", "c", 1.05, "median"),
    Target("last of 256 notified", "asyncn", "c", 1.05, "median"),
    Target("write+read pairs", "asyncn", "c", 1.05, "median"),
    Target(EXCLUSIVE_WOKEN, "asyncn", "c", 1.05, "median"),
    Target("latency p50", "asyncn-epoll", "eventfd", 1.10, "median"),
    Target("latency p99", "asyncn-epoll", "eventfd", 1.10, "median"),
    Target("latency p50", "asyncn", "floor", 1.05, "median"),
]

# The ratio columns of the table: (subject, peer).
RATIOS = [("asyncn", "c"), ("asyncn", "pipe"), ("asyncn", "floor"), ("asyncn-epoll", "eventfd")]

# Table and legend order; a peer not listed here follows, in the data's order.
PEER_ORDER = ["asyncn", "c", "pipe", "floor", "asyncn-epoll", "eventfd", "asyncn-uring"]
# The figures the app prints; more subscriber counts in the data are added.
QUANTILES = ["p50", "p99", "p99.9", "max"]
SUBSCRIBERS = ["0", "1", "16", "256"]
LAST_OF = ["1", "16", "256"]

CAVEAT = ("The guest runs under QEMU's TCG emulation here (no KVM): absolute "
          "figures are those of an emulated CPU; only the ratios between peers, "
          "measured in the same boot and interleaved in rounds, are meaningful.")
PLOT_NOTE = "QEMU TCG: compare peers, not absolutes"

# Plot style per peer: colour, line style, marker. The colours are the
# Okabe-Ito palette (apart for colour-blind readers too) and the dashes
# differ as well, so peers stay apart in grey print.
STYLES = {
    "asyncn": ("#D55E00", "-", "o"),
    "c": ("#0072B2", (0, (5, 2)), "s"),
    "pipe": ("#009E73", "-.", "^"),
    "floor": ("#000000", ":", "D"),
    "asyncn-epoll": ("#CC79A7", (0, (9, 3)), "v"),
    "eventfd": ("#56B4E9", (0, (6, 2, 1, 2, 1, 2)), "P"),
    "asyncn-uring": ("#E69F00", (0, (2, 1)), "X"),
}
SPARE_STYLES = [("#7f7f7f", (0, (1, 2)), "*"), ("#8c564b", (0, (4, 1, 1, 1)), "h"),
                ("#17becf", (0, (12, 2, 2, 2)), "p")]

# --- Input -----------------------------------------------------------------
BLOCK = re.compile(r"ASYNCN-BENCH-JSON-BEGIN\r?\n(.*?)ASYNCN-BENCH-JSON-END", re.S)


class InputError(Exception):
    """A log without usable figures: exit status 2, not a target miss."""


def extract(text, name):
    """The JSON objects between the markers of one console log."""
    runs = []
    for i, m in enumerate(BLOCK.finditer(text), 1):
        try:
            runs.append(json.loads(m.group(1)))
        except json.JSONDecodeError as e:
            raise InputError(f"{name}: figures {i} are not valid JSON ({e})") from None
    if not runs:
        raise InputError(f"{name}: no figures between ASYNCN-BENCH-JSON-BEGIN/END "
                         "(did the guest run the bench?)")
    return runs


# How a run measured: runs that differ in these are not one experiment.
METHOD = ("rounds", "samples", "window_ms", "buffer_size", "kernel", "machine",
          "cpus", "subscriber_cpu", "warmup", "fixed_order", "trace")


def load_runs(logs):
    """Every run of the logs, in order (one per log normally); all measured
    the same way, or the medians across them would mean nothing."""
    runs = []
    for log in logs:
        try:
            text = Path(log).read_text(errors="replace")
        except OSError as e:
            raise InputError(f"cannot read {log}: {e.strerror}") from None
        runs.extend(extract(text, log))
    differ = [k for k in METHOD if len({json.dumps(r.get(k)) for r in runs}) > 1]
    if differ:
        raise InputError("the runs were measured differently (" + ", ".join(
            f"{k}: {'/'.join(json.dumps(r.get(k)) for r in runs)}" for k in differ) + ")")
    return runs


def peers_of(runs):
    """Every peer any run names, in PEER_ORDER first."""
    seen = []
    for run in runs:
        names = list(run.get("peers") or [])
        names += list(run.get("latency_us") or {})
        names += list(run.get("latency_samples_us") or {})
        names += list(run.get("write_read_pairs_per_s") or {})
        for table in (run.get("writes_per_s") or {}, run.get("last_of_n_us") or {}):
            for values in table.values():
                names += list(values or {})
        for p in names:
            if p not in seen:
                seen.append(p)
    return [p for p in PEER_ORDER if p in seen] + [p for p in seen if p not in PEER_ORDER]


# --- Figures and ratios ----------------------------------------------------
# section: the JSON object holding the figure; key: its quantile or
# subscriber count (None: the object maps peers to values directly).
Figure = namedtuple("Figure", "name unit lower section key")


def subscribers_name(n):
    return f"write+notify, {n} subscriber{'' if n == '1' else 's'}"


def figures(runs):
    """The figures of the table: the app's, plus any other count in the data."""
    def counts(section, standard):
        found = {n for run in runs for n in (run.get(section) or {})}
        # Numerically; a key that is not a count (none is) goes last.
        return sorted(set(standard) | found, key=lambda n: (0, int(n), "") if n.isdigit() else (1, 0, n))
    out = [Figure(f"latency {q}", "us", True, "latency_us", q) for q in QUANTILES]
    out += [Figure(subscribers_name(n), "writes/s", False, "writes_per_s", n)
            for n in counts("writes_per_s", SUBSCRIBERS)]
    out += [Figure(f"last of {n} notified", "us", True, "last_of_n_us", n)
            for n in counts("last_of_n_us", LAST_OF)]
    out.append(Figure("write+read pairs", "pairs/s", False, "write_read_pairs_per_s", None))
    out.append(Figure(EXCLUSIVE_WOKEN, "waiters", True, "exclusive_woken_per_write", None))
    out.append(Figure(EXCLUSIVE_TIME, "us", True, "exclusive_write_us", None))
    return out


def value(run, fig, peer):
    """A peer's figure in one run; None when absent, null or not positive."""
    section = run.get(fig.section) or {}
    if fig.section == "latency_us":
        v = (section.get(peer) or {}).get(fig.key)
    elif fig.key is None:
        v = section.get(peer)
    else:
        v = (section.get(fig.key) or {}).get(peer)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
        return None
    return float(v)


def cost_ratio(subject, peer, lower_is_better):
    """The subject's cost over the peer's (>1: subject slower), or None."""
    if subject is None or peer is None or subject <= 0 or peer <= 0:
        return None
    return subject / peer if lower_is_better else peer / subject


def spread(values):
    """median, min, max of the values that are not None (Nones if none are)."""
    got = [v for v in values if v is not None]
    if not got:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(got), "min": min(got), "max": max(got)}


def ratio_stats(runs, fig, subject, peer):
    """Per-run cost ratios of subject over peer, and their spread."""
    per_run = [cost_ratio(value(r, fig, subject), value(r, fig, peer), fig.lower) for r in runs]
    return {"per_run": per_run, **spread(per_run)}


def check(runs, target, figs):
    """One target's verdict: per-run ratios, the value judged, pass, reason."""
    out = {"figure": target.figure, "subject": target.subject, "peer": target.peer,
           "limit": target.limit, "rule": target.rule, "per_run": [], "value": None,
           "pass": False, "reason": None}
    fig = figs.get(target.figure)
    if fig is None:
        out["reason"] = f"not measured (no figure {target.figure!r})"
        return out
    st = ratio_stats(runs, fig, target.subject, target.peer)
    out["per_run"] = st["per_run"]
    # Which side lacks the figure, in which runs: a partial figure is a miss
    # too, since a median over the runs that happen to have it says less.
    lacking = {}
    for i, run in enumerate(runs, 1):
        for p in (target.subject, target.peer):
            if value(run, fig, p) is None:
                lacking.setdefault(p, []).append(i)
    if lacking:
        where = "; ".join(
            f"{p}{'' if len(r) == len(runs) else ' in run ' + ', '.join(map(str, r))}"
            for p, r in lacking.items())
        out["reason"] = f"not measured ({where})"
        return out
    if target.rule == "every":
        out["value"] = st["max"]
        over = [i for i, x in enumerate(st["per_run"], 1) if x > target.limit]
        out["pass"] = not over
        if over:
            out["reason"] = "over in run " + ", ".join(map(str, over))
    else:
        out["value"] = st["median"]
        out["pass"] = st["median"] <= target.limit
    return out


def summarise(runs, logs=()):
    """The summary of bench.json: per figure the peers' medians and the
    ratios' spread, the targets' verdicts, and the overall pass."""
    peers = peers_of(runs)
    figs = figures(runs)
    rows = []
    for fig in figs:
        values = {p: spread([value(r, fig, p) for r in runs]) for p in peers}
        rows.append({
            "figure": fig.name, "unit": fig.unit, "lower_is_better": fig.lower,
            **{k: {p: values[p][k] for p in peers} for k in ("median", "min", "max")},
            "ratios": {f"{s}/{p}": ratio_stats(runs, fig, s, p) for s, p in RATIOS},
        })
    by_name = {f.name: f for f in figs}
    targets = [check(runs, t, by_name) for t in TARGETS]
    misses = [f"{t['subject']}/{t['peer']} {t['figure']}" for t in targets if not t["pass"]]
    return {"runs": len(runs), "logs": [str(x) for x in logs], "peers": peers,
            "median_run": median_run(runs) + 1, "figures": rows, "targets": targets,
            "pass": not misses, "misses": misses}


def median_run(runs):
    """Index of the run whose asyncn latency p99 is the median (the lower
    middle for an even count): the run whose slowest samples are shown."""
    fig = Figure("latency p99", "us", True, "latency_us", "p99")
    ranked = sorted((value(r, fig, "asyncn") or 0.0, i) for i, r in enumerate(runs))
    return ranked[(len(ranked) - 1) // 2][1]


# --- Text output -----------------------------------------------------------
def fmt(x):
    if x is None:
        return "-"
    # A tenth of a microsecond matters below a thousand, not above.
    return f"{x:,.1f}" if x < 1000 else f"{x:,.0f}"


def fmt_ratio(st, runs):
    """median [min-max] of a ratio; the median alone for a single run."""
    if st["median"] is None:
        return "-"
    if runs == 1:
        return f"{st['median']:.2f}"
    return f"{st['median']:.2f} [{st['min']:.2f}-{st['max']:.2f}]"


def table(summary):
    """The table's lines: per figure the peers' medians and the ratios."""
    peers, runs = summary["peers"], summary["runs"]
    head = ["figure", "unit"] + peers + [f"{s}/{p}" for s, p in RATIOS]
    body = [[row["figure"], row["unit"]] + [fmt(row["median"][p]) for p in peers] +
            [fmt_ratio(row["ratios"][f"{s}/{p}"], runs) for s, p in RATIOS]
            for row in summary["figures"]]
    widths = [max(len(line[i]) for line in [head] + body) for i in range(len(head))]

    def line(cells):
        # Names left-aligned, numbers right-aligned, two spaces between.
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    out = [line(head)]
    out.append("-" * len(out[0]))
    out += [line(cells) for cells in body]
    return out


def per_subscriber_cost(summary):
    """Microseconds a write costs per subscriber, from 1 to 16 and 16 to 256
    (the peers' medians across runs)."""
    rows = {r["figure"]: r["median"] for r in summary["figures"]}
    out = {}
    for p in ("asyncn", "c", "pipe"):
        w = {n: (rows.get(subscribers_name(n)) or {}).get(p) for n in ("1", "16", "256")}
        if all(w.values()):
            t = {n: 1e6 / v for n, v in w.items()}
            out[p] = ((t["16"] - t["1"]) / 15, (t["256"] - t["16"]) / 240)
    return out


SLOWEST_KEY = ("as latency us (the write call's us, round rN, sample #N since the peer's turn "
               "began)")


def slowest_lines(run, peers, count=5):
    """Per peer one line: its slowest samples in one run, in the compact
    form SLOWEST_KEY describes, e.g. "820.7 (12.3, r1 #0)"."""
    lines = []
    width = max((len(p) for p in peers), default=0)
    for p in peers:
        samples = ((run.get("slowest") or {}).get(p) or [])[:count]
        if not samples:
            continue
        parts = []
        for s in samples:
            # after_switch: the position since the peer's turn began (the
            # app's first version of these figures named it "sample").
            pos = s.get("after_switch", s.get("sample"))
            write = s.get("write_us")
            parts.append(f"{fmt(s.get('us'))} ({'-' if write is None else f'{write:.1f}'}, "
                         f"r{s.get('round', '?')} #{'?' if pos is None else pos})")
        lines.append(f"  {p:<{width}}  " + "  ".join(parts))
    return lines


def target_lines(summary):
    """A PASS/MISS line per target, then the verdict."""
    out = []
    for t in summary["targets"]:
        name = f"{t['subject']}/{t['peer']} {t['figure']}"
        # Three decimals: at two, a pass at 1.0496 and a miss at 1.0504
        # would both read 1.05.
        per_run = " ".join("-" if x is None else f"{x:.3f}" for x in t["per_run"])
        runs = f" (runs: {per_run})" if t["per_run"] else ""
        if t["value"] is None:
            judged = ""
        elif t["rule"] == "every":
            judged = f": every run <= {t['limit']:.2f}x, worst {t['value']:.3f}x"
        else:
            judged = f": median {t['value']:.3f}x, limit {t['limit']:.2f}x"
        reason = f" - {t['reason']}" if t["reason"] else ""
        out.append(f"{'PASS' if t['pass'] else 'MISS'}  {name}{judged}{reason}{runs}")
    n = len(summary["targets"])
    if summary["pass"]:
        out.append(f"verdict: PASS, all {n} targets met")
    else:
        # "; " between them: figure names hold commas.
        out.append(f"verdict: MISS, {len(summary['misses'])} of {n} targets missed: "
                   + "; ".join(summary["misses"]))
    return out


def plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def same(runs, key):
    """A parameter of the runs: its value, or the runs' values if they differ."""
    values = [str(r.get(key, "?")) for r in runs]
    return values[0] if len(set(values)) == 1 else "/".join(values)


def report(runs, summary):
    """The printed report."""
    n = len(runs)
    print()
    print(f"asyncn benchmark: Linux {same(runs, 'kernel')} on {same(runs, 'machine')}, "
          f"{plural(n, 'run')} (guest boot{'s' if n != 1 else ''}) of {same(runs, 'rounds')} rounds, "
          f"{same(runs, 'samples')} latency samples per peer and round, "
          f"{same(runs, 'window_ms')} ms windows, buffer_size {same(runs, 'buffer_size')}")
    print(f"Method: {same(runs, 'cpus')} guest CPU(s); writer on CPU 0, subscribers on CPU "
          f"{same(runs, 'subscriber_cpu')}; "
          f"{same(runs, 'warmup')} unrecorded samples per latency turn; "
          f"turn order {'fixed' if runs[0].get('fixed_order') else 'shuffled per cycle'}"
          f"{'; ftrace on (FLAVOUR=trace)' if runs[0].get('trace') else ''}")
    over = f"median over the {n} runs" if n > 1 else "of the one run"
    spread_ = ", median [min-max] over the runs" if n > 1 else ""
    print(f"Figures: each peer's {over}. Ratios: the subject's cost over the peer's{spread_}; "
          "1.00 = the same, above 1 = the subject slower (latency: subject/peer; rates: "
          "peer/subject).")
    print("\n".join(table(summary)))
    for p, (low, high) in per_subscriber_cost(summary).items():
        print(f"fan-out {p:<6}: {low:.2f} us per subscriber from 1 to 16, {high:.2f} us from 16 to 256")
    i = summary["median_run"] - 1
    lines = slowest_lines(runs[i], summary["peers"])
    if lines:
        print(f"Slowest latency samples of run {i + 1} (the median run by asyncn's p99), "
              f"{SLOWEST_KEY}:")
        print("\n".join(lines))
    print(textwrap.fill(CAVEAT, width=110))


def dumps(obj, level=0):
    """JSON, objects indented but lists of numbers kept on one line: every
    latency sample of every run is in bench.json, and one number per line
    would make it hundreds of thousands of lines."""
    pad = "  " * (level + 1)
    if isinstance(obj, dict) and obj:
        items = [f"{pad}{json.dumps(k)}: {dumps(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    if isinstance(obj, list) and any(isinstance(x, (dict, list)) for x in obj):
        items = [pad + dumps(v, level + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + "  " * level + "]"
    return json.dumps(obj)


# --- Plots -----------------------------------------------------------------
def style(peer, peers):
    """Colour, dash and marker of a peer: fixed for known peers."""
    if peer in STYLES:
        return STYLES[peer]
    extra = [p for p in peers if p not in STYLES]
    return SPARE_STYLES[extra.index(peer) % len(SPARE_STYLES)]


def thin(n, points=600):
    """Sorted-sample indices to draw: an even spread over the body and a
    geometric one towards the largest sample, so the tail keeps every
    step that matters while the SVG stays small (a run holds thousands of
    samples per peer)."""
    if n <= 2 * points:
        return list(range(n))
    body = {round(i * (n - 1) / points) for i in range(points + 1)}
    tail = {n - 1 - round((n - 1) ** (i / points)) for i in range(points + 1)}
    return sorted(body | tail | set(range(n - 50, n)))


def setup_matplotlib():
    """matplotlib with the Agg backend (no display) and reproducible SVGs."""
    try:
        import matplotlib
    except ImportError:
        raise InputError("matplotlib is missing: run this through `make bench`, which "
                         "installs it into build/venv, or with build/venv/bin/python3") from None
    matplotlib.use("Agg")
    # Stable SVG ids: a report of the same figures gives the same files.
    matplotlib.rcParams["svg.hashsalt"] = "asyncn-bench"
    import matplotlib.pyplot as plt
    return plt


def plain_log_ticks(axis):
    """Ticks at 1, 2, 5 per decade, printed as plain numbers: the figures
    span two or three decades, and 10^1, 10^2 alone say little."""
    from matplotlib import ticker
    axis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(ticker.NullLocator())


def save(fig, out, stem):
    """The figure as <stem>.png and <stem>.svg; the paths written."""
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1], metadata={"Date": None})
    return paths


def plot_latency(plt, runs, peers, out, title):
    """latency-cdf: the CDF of every peer's latency samples (pooled over the
    runs) on a log x axis, and its tail as 1 - CDF on log-log axes."""
    fig, (body, tail) = plt.subplots(1, 2, figsize=(13, 5.4), layout="constrained")
    handles, ymin, lows, p50s, top = [], 1.0, [], [], 0.0
    for p in peers:
        samples = sorted(float(x) for r in runs for x in ((r.get("latency_samples_us") or {}).get(p) or [])
                         if isinstance(x, (int, float)) and x > 0)
        n = len(samples)
        if not n:
            continue
        colour, dash, _ = style(p, peers)
        idx = thin(n)
        xs = [samples[i] for i in idx]
        kw = dict(color=colour, linestyle=dash, linewidth=2.2 if p == "asyncn" else 1.6,
                  drawstyle="steps-post")
        (h,) = body.plot(xs, [(i + 1) / n for i in idx], label=f"{p} (n={n:,})", **kw)
        # 1 - F just before each sample, so the largest sample sits at 1/n
        # and not at 0, which a log axis cannot show.
        tail.plot(xs, [(n - i) / n for i in idx], **kw)
        handles.append(h)
        ymin = min(ymin, 1 / n)
        lows.append(samples[n // 1000])
        p50s.append(samples[n // 2])
        top = max(top, samples[-1])
    if not handles:
        for ax in (body, tail):
            ax.text(0.5, 0.5, "no latency samples in these runs", ha="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
    else:
        body.set_xscale("log")
        tail.set_xscale("log")
        tail.set_yscale("log")
        # The body from the fastest 0.1 %; the tail from the fastest
        # median, where 1 - CDF leaves 1 and the tail begins.
        body.set_xlim(min(lows) / 1.3, top * 1.3)
        tail.set_xlim(min(p50s) / 1.3, top * 1.3)
        for ax in (body, tail):
            plain_log_ticks(ax.xaxis)
        tail.set_ylim(ymin / 2, 1.3)
        for level, label in ((1e-2, "p99"), (1e-3, "p99.9")):
            tail.axhline(level, color="#adb5bd", linewidth=0.8, zorder=0)
            tail.text(0.01, level, label, color="#868e96", va="bottom", fontsize=9,
                      transform=tail.get_yaxis_transform())
        fig.legend(handles=handles, loc="outside right center", title="peer (samples)")
    body.set_ylim(0, 1)
    body.set_title("(a) latency distribution (CDF)")
    body.set_xlabel("notification latency (µs, log scale)")
    body.set_ylabel("fraction of samples ≤ latency")
    tail.set_title("(b) tail: 1 − CDF (log–log)")
    tail.set_xlabel("notification latency (µs, log scale)")
    tail.set_ylabel("fraction of samples > latency (log scale)")
    for ax in (body, tail):
        ax.grid(True, which="major", color="#e9ecef")
    fig.suptitle(title)
    paths = save(fig, out, "latency-cdf")
    plt.close(fig)
    return paths


def plot_cost(plt, runs, peers, out, title):
    """cost-per-write: microseconds per write+notify (1e6 / writes/s)
    against subscribers; median over the runs, bars min-max. The x axis is
    symlog: 0 subscribers sits left of the log scale, alone, and is not
    joined to the line through 1, 16, 256."""
    counts = sorted({n for r in runs for n in (r.get("writes_per_s") or {}) if n.isdigit()}, key=int)
    shown = [p for p in peers if any(
        ((r.get("writes_per_s") or {}).get(n) or {}).get(p) for r in runs for n in counts)]
    from matplotlib import ticker
    fig, ax = plt.subplots(figsize=(10, 5.6), layout="constrained")
    handles = []
    for k, p in enumerate(shown):
        colour, dash, marker = style(p, peers)
        # Each peer a little to the side, so equal costs (asyncn and c) do
        # not hide each other's markers and bars: additive at 0 (the linear
        # part of the axis), multiplicative on the log part.
        shift = (k - (len(shown) - 1) / 2) * 0.08
        pts = []
        for n in counts:
            fig_n = Figure("", "", False, "writes_per_s", n)
            costs = [1e6 / v for v in (value(r, fig_n, p) for r in runs) if v]
            if costs:
                x = int(n) + shift if int(n) == 0 else int(n) * 2 ** shift
                pts.append((int(n), x, statistics.median(costs), min(costs), max(costs)))
        kw = dict(color=colour, marker=marker, markersize=6, capsize=3, elinewidth=1)
        h = None
        for group in ([q for q in pts if q[0] == 0], [q for q in pts if q[0] > 0]):
            if not group:
                continue
            xs, ys = [q[1] for q in group], [q[2] for q in group]
            err = [[q[2] - q[3] for q in group], [q[4] - q[2] for q in group]]
            h = ax.errorbar(xs, ys, yerr=err, linestyle=dash if len(group) > 1 else "none",
                            linewidth=2.2 if p == "asyncn" else 1.6, label=p, **kw)
        if h is not None:
            handles.append(h)
    ax.set_xscale("symlog", linthresh=1, linscale=0.6)
    ax.set_xlim(-0.6, max([int(n) for n in counts] + [1]) * 1.6)
    ax.set_xticks([int(n) for n in counts], labels=counts)
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    # The linear part of the axis, holding 0, shaded apart from the log part.
    ax.axvspan(-0.6, 0.5, color="#f1f3f5", zorder=0)
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    ax.set_xlabel("subscribers per write (log scale from 1; 0, shaded, is off it)")
    ax.set_ylabel("µs per write+notify (log scale)")
    ax.set_title("Cost of one write that notifies its subscribers: " +
                 (f"median of {len(runs)} runs, bars min–max" if len(runs) > 1 else "one run"))
    ax.grid(True, which="major", color="#e9ecef")
    if handles:
        fig.legend(handles=handles, loc="outside right center", title="peer")
    else:
        ax.text(0.5, 0.5, "no writes/s figures in these runs", ha="center", transform=ax.transAxes)
        ax.set_yticks([])
    fig.suptitle(title)
    paths = save(fig, out, "cost-per-write")
    plt.close(fig)
    return paths


# --- Main ------------------------------------------------------------------
def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) < 3 or argv[1].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    out, logs = Path(argv[1]), argv[2:]
    try:
        runs = load_runs(logs)
        plt = setup_matplotlib()
    except InputError as e:
        print(f"bench-report: {e}", file=sys.stderr)
        return 2
    summary = summarise(runs, logs)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(dumps({"runs": runs, "summary": summary}) + "\n")
    peers = summary["peers"]
    n = len(runs)
    where = f"Linux {same(runs, 'kernel')}, {same(runs, 'machine')}, {plural(n, 'run')}"
    written = [out / "bench.json"]
    written += plot_latency(plt, runs, peers, out,
                            f"asyncn notification latency: {where}, samples pooled\n{PLOT_NOTE}")
    written += plot_cost(plt, runs, peers, out, f"asyncn write+notify cost: {where}\n{PLOT_NOTE}")
    report(runs, summary)
    print("saved: " + ", ".join(str(p) for p in written))
    # The targets last: the verdict closes the output.
    print("Targets:")
    print("\n".join(target_lines(summary)))
    return 0 if summary["pass"] else 1


# --- Self-test -------------------------------------------------------------
def _run(lat=None, rates=None, last=None, pairs=None, woken=None, peers=PEER_ORDER):
    """A run in the app's schema: every figure of every peer 100 (us or
    per s), one waiter woken per write, changed by lat[(peer, quantile)],
    rates[(n, peer)], last[(n, peer)], pairs[peer], woken[peer]; a value
    None removes the figure."""
    lat, rates, last, pairs, woken = lat or {}, rates or {}, last or {}, pairs or {}, woken or {}
    signalling = [p for p in ("asyncn", "c", "pipe", "floor") if p in peers]
    return {
        "rounds": 1, "samples": 4, "window_ms": 1, "buffer_size": 256,
        "kernel": "test", "machine": "test", "peers": list(peers),
        "latency_us": {p: {q: lat.get((p, q), 100.0) for q in QUANTILES} for p in peers},
        "latency_samples_us": {p: [90.0, 100.0, 110.0, 400.0] for p in peers},
        "writes_per_s": {n: {p: rates.get((n, p), 100.0) for p in signalling} for n in SUBSCRIBERS},
        "last_of_n_us": {n: {p: last.get((n, p), 100.0) for p in signalling} for n in LAST_OF},
        "write_read_pairs_per_s": {p: pairs.get(p, 100.0) for p in signalling},
        "exclusive_waiters": 64,
        "exclusive_woken_per_write": {p: woken.get(p, 1.0) for p in ("asyncn", "c") if p in peers},
        "exclusive_write_us": {p: 100.0 for p in ("asyncn", "c") if p in peers},
        "slowest": {p: [{"us": 400.0, "write_us": 1.5, "round": 1, "sample": 3, "after_switch": 3}]
                    for p in peers},
    }


def self_test():
    """Checks the ratio and target logic on constructed runs; 0 when all hold."""
    failures = []

    def expect(cond, what):
        if not cond:
            failures.append(what)

    def verdicts(runs):
        s = summarise(runs)
        return s, {(t["subject"], t["peer"], t["figure"]): t for t in s["targets"]}

    # Ratio direction: latency subject/peer, rates peer/subject.
    expect(abs(cost_ratio(110, 100, True) - 1.10) < 1e-9, "latency ratio is subject/peer")
    expect(abs(cost_ratio(90, 100, False) - 100 / 90) < 1e-9, "rate ratio is peer/subject")
    expect(cost_ratio(None, 100, True) is None and cost_ratio(0, 100, False) is None,
           "a missing or zero figure gives no ratio")

    # Passing: asyncn 2-4 % over c, a 1.4x max in every run, epoll 8 % over
    # eventfd, asyncn 3 % over floor; one run's p50 at 1.30x is outvoted by
    # the median.
    def good(p50):
        return _run(lat={("asyncn", "p50"): p50, ("asyncn", "p99"): 102.0, ("asyncn", "p99.9"): 104.0,
                         ("asyncn", "max"): 140.0, ("floor", "p50"): p50 / 1.03,
                         ("asyncn-epoll", "p50"): 108.0, ("asyncn-epoll", "p99"): 109.0},
                    rates={(n, "asyncn"): 100 / 1.04 for n in SUBSCRIBERS},
                    last={(n, "asyncn"): 103.0 for n in LAST_OF}, pairs={"asyncn": 97.0})
    runs = [good(103.0), good(130.0), good(101.0)]
    s, v = verdicts(runs)
    expect(s["pass"] and not s["misses"], f"passing case passes (misses: {s['misses']})")
    expect(len(v) == len(TARGETS), "one verdict per target")
    t = v[("asyncn", "c", "latency p50")]
    expect(abs(t["value"] - 1.03) < 1e-9 and t["per_run"][1] > 1.29, "median of the per-run ratios")
    t = v[("asyncn", "c", "write+notify, 16 subscribers")]
    expect(abs(t["value"] - 1.04) < 1e-9, "rate target judged peer/subject")
    row = next(r for r in s["figures"] if r["figure"] == "latency p50")
    expect(abs(row["median"]["asyncn"] - 103.0) < 1e-9, "table shows the median across runs")
    expect(abs(row["ratios"]["asyncn/c"]["max"] - 1.30) < 1e-9, "ratio spread keeps the max")
    expect(s["median_run"] in (1, 2, 3), "a median run is chosen")

    # Missing: eventfd absent, floor's latency null in one run, asyncn's max
    # at 1.6x in run 2 only (its median 1.4x would pass), pairs 10 % over.
    no_eventfd = [p for p in PEER_ORDER if p != "eventfd"]
    runs = [_run(lat={("asyncn", "max"): 140.0}, pairs={"c": 110.0}, peers=no_eventfd),
            _run(lat={("asyncn", "max"): 160.0, ("floor", "p50"): None}, pairs={"c": 110.0},
                 peers=no_eventfd),
            _run(lat={("asyncn", "max"): 120.0}, pairs={"c": 110.0}, peers=no_eventfd)]
    s, v = verdicts(runs)
    expect(not s["pass"], "missing case misses")
    t = v[("asyncn", "c", "latency max")]
    expect(not t["pass"] and t["reason"] == "over in run 2", f"max judged in every run ({t['reason']})")
    for q in ("latency p50", "latency p99"):
        t = v[("asyncn-epoll", "eventfd", q)]
        expect(not t["pass"] and t["reason"] == "not measured (eventfd)",
               f"absent peer is a miss: {q} ({t['reason']})")
    t = v[("asyncn", "floor", "latency p50")]
    expect(not t["pass"] and t["reason"] == "not measured (floor in run 2)",
           f"a figure null in one run is a miss ({t['reason']})")
    t = v[("asyncn", "c", "write+read pairs")]
    expect(not t["pass"] and abs(t["value"] - 1.10) < 1e-9, "pairs over the limit miss")
    expect(v[("asyncn", "c", "latency p50")]["pass"], "the other targets still pass")
    expect(len(s["misses"]) == 5, f"five misses ({s['misses']})")

    # A thundering herd: every exclusive waiter woken by each write.
    s, v = verdicts([_run(woken={"asyncn": 64.0}) for _ in range(3)])
    t = v[("asyncn", "c", EXCLUSIVE_WOKEN)]
    expect(not t["pass"] and abs(t["value"] - 64.0) < 1e-9, f"a herd misses ({t['value']})")
    row = next(r for r in s["figures"] if r["figure"] == EXCLUSIVE_TIME)
    expect(abs(row["median"]["c"] - 100.0) < 1e-9, "the time per write is in the table")

    # The old schema (4 peers, no samples or slowest) reports, and misses
    # the epoll targets as not measured.
    old = _run(peers=["asyncn", "c", "pipe", "floor"])
    for key in ("peers", "latency_samples_us", "slowest"):
        del old[key]
    s, v = verdicts([old])
    expect(v[("asyncn-epoll", "eventfd", "latency p50")]["reason"] == "not measured (asyncn-epoll; eventfd)",
           "old schema: epoll target not measured")

    # Extraction: CRLF console lines, two runs in one log, text between.
    text = ("boot\r\nASYNCN-BENCH-JSON-BEGIN\r\n{\"rounds\": 1}\r\nASYNCN-BENCH-JSON-END\r\n"
            "noise\nASYNCN-BENCH-JSON-BEGIN\n{\"rounds\": 2}\nASYNCN-BENCH-JSON-END\n")
    expect([r["rounds"] for r in extract(text, "t")] == [1, 2], "extracts every block")
    try:
        extract("no figures", "t")
        expect(False, "a log without figures is an error")
    except InputError:
        pass

    # The text output renders both cases without failing.
    with redirect_stdout(io.StringIO()) as buf:
        report(runs, summarise(runs))
        print("\n".join(target_lines(summarise(runs))))
        report([old], summarise([old]))
    text = buf.getvalue()
    expect("MISS  asyncn/c latency max" in text and "verdict: MISS, 5 of" in text, "report prints misses")
    expect("  asyncn        400.0 (1.5, r1 #3)" in text,
           "report prints the slowest samples")
    expect(json.loads(dumps({"runs": runs, "summary": summarise(runs)}))["runs"] == runs,
           "bench.json round-trips")

    for f in failures:
        print(f"self-test FAILED: {f}", file=sys.stderr)
    if not failures:
        print("bench-report self-test: all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
