#!/usr/bin/env python3
"""Turn the guest's RESULT lines into results.json, table.md and chart.svg.

  bench_report.py <raw.txt> <out dir> <kernel .config>
"""
import json
import statistics
import sys
from collections import defaultdict

raw, out, config = sys.argv[1], sys.argv[2], sys.argv[3]
runs = defaultdict(list)
units = {}
for line in open(raw):
    f = line.split()
    if len(f) == 5 and f[0] == "RESULT":
        runs[(f[1], f[2])].append(int(f[3]))
        units[f[1]] = f[4]

mean = {k: statistics.mean(v) for k, v in runs.items()}
spread = {k: (max(v) - min(v)) / statistics.mean(v) if statistics.mean(v) else 0
          for k, v in runs.items()}
noq = mean.get(("noqueue", "-"))

rows = []  # (label, ns, unit, over noqueue, ours/C)
for name, label in (("noqueue", "noqueue (no qdisc)"), ("pfifo", "pfifo"),
                    ("bfifo", "bfifo limit 1000"),
                    ("leaf-bfifo", "prio, bfifo limit 1000 leaf")):
    if (name, "-") in mean:
        v = mean[(name, "-")]
        rows.append((f"pass-through: {label}", v, "ns/packet", v - noq, None))
for row, label in (("fifo-root", "pass-through: byte FIFO limit 1000 (C bfifo, ours rbfifo)"),
                   ("fifo-leaf", "pass-through: prio, byte FIFO leaf (C bfifo, ours rbfifo)"),
                   ("plug-pass-through", "pass-through: plug release_indefinite"),
                   ("leaf-plug-pass-through", "pass-through: prio, plug leaf release_indefinite"),
                   ("buffered-enqueue", "buffered enqueue (plugged)"),
                   ("drain", "drain after release (100,000 buffered)"),
                   ("control", "control: tc -batch block/release_indefinite")):
    c, r = mean.get((row, "c")), mean.get((row, "rust"))
    if c is None or r is None:
        continue
    over = row.endswith("pass-through") or row.startswith("fifo")
    rows.append((f"{label}, C", c, units[row], c - noq if over else None, None))
    rows.append((f"{label}, ours", r, units[row], r - noq if over else None, r / c))

# The plug as a prio leaf against the C bfifo as one (the fifo rows are
# measured after every load of either module).
c, r = mean.get(("fifo-leaf", "c")), mean.get(("leaf-plug-pass-through", "rust"))
if c is not None and r is not None:
    rows.append(("pass-through: prio leaf, C bfifo limit 1000 vs ours plug release_indefinite, C",
                 c, "ns/packet", c - noq, None))
    rows.append(("pass-through: prio leaf, C bfifo limit 1000 vs ours plug release_indefinite, ours",
                 r, "ns/packet", r - noq, r / c))

kconf = [l.strip() for l in open(config)
         if l.startswith(("CONFIG_KASAN=", "CONFIG_PROVE_LOCKING=", "CONFIG_DEBUG_KMEMLEAK=",
                          "CONFIG_RUST_OVERFLOW_CHECKS=", "CONFIG_SMP="))]
json.dump({"method": "QEMU TCG -icount shift=0,sleep=off: guest ns = instructions",
           "kernel_config": kconf or ["(no KASAN, lockdep, kmemleak)"],
           "runs": {f"{k[0]}/{k[1]}": v for k, v in runs.items()},
           "mean": {f"{k[0]}/{k[1]}": v for k, v in mean.items()},
           "spread": {f"{k[0]}/{k[1]}": v for k, v in spread.items()}},
          open(f"{out}/results.json", "w"), indent=2)

lines = ["| path | guest ns | over noqueue | ours/C |", "|---|---|---|---|"]
for label, v, unit, over, ratio in rows:
    lines.append(f"| {label} | {v:,.0f} {unit} | {'' if over is None else f'{over:,.0f}'} | "
                 f"{'' if ratio is None else f'{ratio:.3f}'} |")
worst = max(spread.values()) if spread else 0
lines.append("")
lines.append(f"Largest spread between runs of one row: {worst:.2%}.")
open(f"{out}/table.md", "w").write("\n".join(lines) + "\n")

# The chart: one panel per comparison, C and ours side by side on that
# panel's own scale (the rows range from ~100 ns per packet to ~100,000 ns per
# control operation, which one scale would flatten), with the ratio; then the
# reference rows (no plug involved) on a common scale of their own.
# Pass-through panels draw the part above noqueue (what the qdisc itself
# costs, where the two differ), with the totals in the text.
pairs = []  # (label, C, ours, unit, ratio, C total, ours total)
refs = []
for label, v, unit, over, ratio in rows:
    shown = v if over is None else over
    if label.endswith(", C"):
        pairs.append([label[:-3], shown, None, unit, None, v, None])
    elif label.endswith(", ours"):
        pairs[-1][2], pairs[-1][4], pairs[-1][6] = shown, ratio, v
    else:
        refs.append((label, v, unit))
w, left, bar, barw = 960, 300, 16, 300
svg_rows = []
y = 50
for label, c, r, unit, ratio, ct, rt in pairs:
    top = max(c, r)
    svg_rows.append(f'<text x="10" y="{y + 14}" font-weight="bold">{label}</text>')
    good = ratio <= 1.0
    svg_rows.append(f'<text x="{w - 10}" y="{y + 14}" text-anchor="end" font-weight="bold" '
                    f'fill="{"#1e8449" if good else "#c0392b"}">ours/C {ratio:.3f}</text>')
    for j, (who, v, total, colour) in enumerate((("C", c, ct, "#7f8c8d"),
                                                  ("ours", r, rt, "#2e86c1"))):
        yy = y + 22 + j * (bar + 4)
        length = barw * v / top
        text = (f"{v:,.0f} {unit}" if v == total
                else f"{v:,.0f} {unit} over noqueue ({total:,.0f} in all)")
        svg_rows.append(f'<text x="{left - 8}" y="{yy + 12}" text-anchor="end">{who}</text>')
        svg_rows.append(f'<rect x="{left}" y="{yy}" width="{length:.1f}" height="{bar}" fill="{colour}"/>')
        svg_rows.append(f'<text x="{left + length + 6:.1f}" y="{yy + 12}">{text}</text>')
    y += 22 + 2 * (bar + 4) + 14
if refs:
    svg_rows.append(f'<text x="10" y="{y + 14}" font-weight="bold">references (no plug, '
                    f'one scale)</text>')
    y += 22
    top = max(v for _, v, _ in refs)
    for label, v, unit in refs:
        length = barw * v / top
        svg_rows.append(f'<text x="{left - 8}" y="{y + 12}" text-anchor="end">{label}</text>')
        svg_rows.append(f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" fill="#bdc3c7"/>')
        svg_rows.append(f'<text x="{left + length + 6:.1f}" y="{y + 12}">{v:,.0f} {unit}</text>')
        y += bar + 4
h = y + 20
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
       f'font-family="sans-serif" font-size="12">',
       f'<rect width="{w}" height="{h}" fill="white"/>',
       f'<text x="10" y="24" font-size="15">sch_plug: C vs ours, guest ns per packet / operation '
       f'(QEMU -icount, one boot; lower is better)</text>',
       '<text x="10" y="40" font-size="11" fill="#555">Each panel has its own scale; '
       'pass-through bars are the cost above noqueue (no qdisc); the ratio is ours / C '
       'of the whole.</text>'] + svg_rows + ["</svg>"]
open(f"{out}/chart.svg", "w").write("\n".join(svg) + "\n")
