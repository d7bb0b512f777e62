#!/usr/bin/env python3
"""Turns the figures of `asyncn-test bench` (between the JSON markers of a
guest console log) into build/bench/bench.json, bench.svg and a table.

Usage: bench-report.py <guest-bench.log> <output dir>
"""
import json
import sys
from pathlib import Path

PEERS = ["asyncn", "c", "pipe", "floor"]
CAVEAT = ("The guest runs under QEMU's TCG emulation here (no KVM): absolute "
          "figures are those of an emulated CPU; only the ratios between peers, "
          "measured in the same boot and interleaved in rounds, are meaningful.")


def extract(log):
    text = Path(log).read_text(errors="replace")
    try:
        body = text.split("ASYNCN-BENCH-JSON-BEGIN\n", 1)[1].split("ASYNCN-BENCH-JSON-END", 1)[0]
    except IndexError:
        sys.exit(f"bench-report: no figures in {log} (did the guest run the bench?)")
    return json.loads(body)


def rows(data):
    """(figure, unit, lower_is_better, {peer: value})"""
    out = []
    for q in ("p50", "p99", "p99.9", "max"):
        out.append((f"latency {q}", "us", True,
                    {p: data["latency_us"][p][q] for p in PEERS}))
    for n, values in data["writes_per_s"].items():
        out.append((f"write+notify, {n} subscribers", "writes/s", False, values))
    for n, values in data["last_of_n_us"].items():
        out.append((f"last of {n} notified", "us", True, values))
    out.append(("write+read pairs", "pairs/s", False, data["write_read_pairs_per_s"]))
    return out


def cost_ratio(asyncn, other, lower_is_better):
    """asyncn's cost over the peer's: time or latency ratio (>1: asyncn slower)."""
    if asyncn is None or other is None or asyncn <= 0 or other <= 0:
        return None
    return asyncn / other if lower_is_better else other / asyncn


def fmt(x):
    if x is None:
        return "-"
    return f"{x:,.1f}" if x < 1e5 else f"{x:,.0f}"


def table(data):
    lines = []
    head = f"{'figure':<30} {'unit':<9}" + "".join(f"{p:>12}" for p in PEERS) + \
        f"{'asyncn/c':>10}{'asyncn/pipe':>12}{'asyncn/floor':>13}"
    lines.append(head)
    lines.append("-" * len(head))
    worst = (0.0, "")
    for name, unit, lower, values in rows(data):
        ratios = [cost_ratio(values.get("asyncn"), values.get(p), lower) for p in ("c", "pipe", "floor")]
        # The max is one sample: reported, but not a figure to rank.
        if ratios[0] is not None and name != "latency max":
            worst = max(worst, (ratios[0], name))
        lines.append(f"{name:<30} {unit:<9}" + "".join(f"{fmt(values.get(p)):>12}" for p in PEERS) +
                     "".join(f"{('%.2fx' % r) if r else '-':>{w}}" for r, w in zip(ratios, (10, 12, 13))))
    return lines, worst


def per_subscriber_cost(data):
    """Microseconds a write costs per subscriber, from 1 to 16 and 16 to 256."""
    out = {}
    w = data["writes_per_s"]
    for p in ("asyncn", "c", "pipe"):
        t = {n: 1e6 / w[n][p] for n in ("1", "16", "256") if w[n].get(p)}
        if len(t) == 3:
            out[p] = ((t["16"] - t["1"]) / 15, (t["256"] - t["16"]) / 240)
    return out


def svg(data, path):
    """Two panels: latency p50/p99 per peer, and cost per write vs subscribers."""
    colours = {"asyncn": "#d9480f", "c": "#1c7ed6", "pipe": "#37b24d", "floor": "#868e96"}
    W, H = 900, 380
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
             f'<rect width="{W}" height="{H}" fill="white"/>',
             '<text x="20" y="22" font-size="15">asyncn benchmark (QEMU TCG: compare ratios, not absolutes)</text>']
    # Panel 1: latency bars.
    lat = data["latency_us"]
    top = max(max(lat[p]["p99"] or 0 for p in PEERS), 1)
    x0, y0, ph = 50, 340, 260
    parts.append(f'<text x="{x0}" y="60">notification latency, us (p50 solid, p99 light)</text>')
    for i, p in enumerate(PEERS):
        for j, q in enumerate(("p50", "p99")):
            v = lat[p][q] or 0
            h = ph * v / top
            x = x0 + i * 95 + j * 36
            parts.append(f'<rect x="{x}" y="{y0 - h:.1f}" width="32" height="{h:.1f}" fill="{colours[p]}" '
                         f'opacity="{1.0 if j == 0 else 0.45}"/>')
            parts.append(f'<text x="{x}" y="{y0 - h - 4:.1f}" font-size="10">{v:.0f}</text>')
        parts.append(f'<text x="{x0 + i * 95}" y="{y0 + 16}">{p}</text>')
    # Panel 2: microseconds per write against subscribers.
    w = data["writes_per_s"]
    ns = [int(n) for n in w]
    x1, pw = 500, 360
    costs = {p: [(n, 1e6 / w[str(n)][p]) for n in ns if w[str(n)].get(p)] for p in PEERS}
    ymax = max((c for p in costs for _, c in costs[p]), default=1)
    parts.append(f'<text x="{x1}" y="60">cost per write+notify, us, vs subscribers (0, 1, 16, 256)</text>')
    parts.append(f'<line x1="{x1}" y1="{y0}" x2="{x1 + pw}" y2="{y0}" stroke="black"/>')
    parts.append(f'<line x1="{x1}" y1="{y0}" x2="{x1}" y2="{y0 - ph}" stroke="black"/>')
    for p, pts in costs.items():
        if not pts:
            continue
        xy = [(x1 + pw * n / max(ns), y0 - ph * c / ymax) for n, c in pts]
        parts.append('<polyline fill="none" stroke-width="2" stroke="{}" points="{}"/>'.format(
            colours[p], " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)))
        parts.append(f'<text x="{xy[-1][0] - 40:.1f}" y="{xy[-1][1] - 6:.1f}" fill="{colours[p]}">{p}</text>')
    parts.append(f'<text x="{x1 - 30}" y="{y0 - ph + 4}" font-size="10">{ymax:.0f}</text>')
    parts.append("</svg>")
    Path(path).write_text("\n".join(parts) + "\n")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    data = extract(sys.argv[1])
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(data, indent=2) + "\n")
    svg(data, out / "bench.svg")
    lines, worst = table(data)
    print()
    print(f"asyncn benchmark: Linux {data['kernel']} on {data['machine']}, {data['rounds']} rounds, "
          f"{data['samples']} latency samples per peer and round, {data['window_ms']} ms windows, "
          f"buffer_size {data['buffer_size']}")
    print("\n".join(lines))
    print("Ratios: asyncn's cost over the peer's (latency, or time per operation): "
          "1.00x = the same, above 1 = asyncn slower.")
    for p, (low, high) in per_subscriber_cost(data).items():
        print(f"fan-out {p:<6}: {low:.2f} us per subscriber from 1 to 16, {high:.2f} us from 16 to 256")
    print(f"worst asyncn/c ratio: {worst[0]:.2f}x ({worst[1]}); latency max, a single sample "
          "each, is shown but not ranked")
    print(CAVEAT)
    print(f"saved: {out / 'bench.json'}, {out / 'bench.svg'}")


if __name__ == "__main__":
    main()
