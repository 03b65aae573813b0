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
for row, label in (("plug-pass-through", "pass-through: plug release_indefinite"),
                   ("leaf-plug-pass-through", "pass-through: prio, plug leaf release_indefinite"),
                   ("buffered-enqueue", "buffered enqueue (plugged)"),
                   ("drain", "drain after release (100,000 buffered)"),
                   ("control", "control: tc -batch block/release_indefinite")):
    c, r = mean.get((row, "c")), mean.get((row, "rust"))
    if c is None or r is None:
        continue
    over = row.endswith("pass-through")
    rows.append((f"{label}, C", c, units[row], c - noq if over else None, None))
    rows.append((f"{label}, ours", r, units[row], r - noq if over else None, r / c))

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

# A horizontal bar chart, one bar per row, hand-made SVG.
w, bar, gap, left = 900, 22, 8, 380
h = 40 + len(rows) * (bar + gap)
top = max(v for _, v, *_ in rows) if rows else 1
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
       f'font-family="sans-serif" font-size="12">',
       f'<text x="10" y="20" font-size="14">sch_plug: guest ns per packet / operation '
       f'(QEMU -icount, lower is better)</text>']
for i, (label, v, unit, _, ratio) in enumerate(rows):
    y = 35 + i * (bar + gap)
    length = (w - left - 120) * v / top
    colour = "#c0392b" if label.endswith("ours") else "#7f8c8d" if "C" in label[-3:] else "#95a5a6"
    svg.append(f'<text x="10" y="{y + 15}">{label}</text>')
    svg.append(f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" fill="{colour}"/>')
    note = f"{v:,.0f} {unit}" + (f"  ({ratio:.3f}× C)" if ratio else "")
    svg.append(f'<text x="{left + length + 5:.1f}" y="{y + 15}">{note}</text>')
svg.append("</svg>")
open(f"{out}/chart.svg", "w").write("\n".join(svg) + "\n")
