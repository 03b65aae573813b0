#!/usr/bin/env python3
"""Draw the output-commit timeline of a `make run` (plugdemo's logs) as SVG.

  timeline.py <dir with commit.tsv and arrivals.tsv> <out.svg> [title] [--epochs N]

One row per epoch (the first N, default 24, or from a little before the
first violation if there is one): the open epoch (blue), closed and waiting
for its acknowledgement (amber), the acknowledgement (green tick), and a dot
per datagram of that epoch at its arrival: grey when it arrived after the
acknowledgement, red when before (an output-commit violation).
"""
import sys

args = [a for a in sys.argv[1:] if not a.startswith("--")]
rows_wanted = 24
if "--epochs" in sys.argv:
    rows_wanted = int(sys.argv[sys.argv.index("--epochs") + 1])
    args.remove(str(rows_wanted))
src, out = args[0], args[1]
title = args[2] if len(args) > 2 else "output commit"


def tsv(name):
    lines = open(f"{src}/{name}").read().split("\n")[1:]
    return [l.split("\t") for l in lines if l]


def num(s):
    return None if s == "-" else int(s) / 1e6  # ns -> ms


epochs = [(int(e), num(o), num(c), num(a)) for e, o, c, a in tsv("commit.tsv")]
arrivals = [(int(s), int(e), num(t), num(a), v == "1") for s, e, t, a, v in tsv("arrivals.tsv")]
violations = [a for a in arrivals if a[4]]
first = min(a[1] for a in violations) if violations else 0
lo = max(0, first - 3)
shown = [e for e in epochs if lo <= e[0] < lo + rows_wanted]
if not shown:
    sys.exit("timeline.py: no epochs")
t_lo = shown[0][1]
t_hi = max([e[3] or e[2] or e[1] for e in shown] +
           [a[3] for a in arrivals if shown[0][0] <= a[1] <= shown[-1][0]])
span = max(t_hi - t_lo, 1)

W, left, right, top, row = 980, 70, 20, 64, 18
plot_w = W - left - right
H = top + row * len(shown) + 84


def x(t):
    return left + (t - t_lo) / span * plot_w


svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
       'font-family="sans-serif" font-size="11">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{left}" y="22" font-size="15">{title}</text>',
       f'<text x="{left}" y="40" fill="#555">epochs {shown[0][0]}-{shown[-1][0]} of '
       f'{len(epochs)}; {len(arrivals)} datagrams in all, {len(violations)} before their '
       f'acknowledgement (red)</text>']
# A time grid with at most 14 labels.
step = next(s for s in (10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000) if span / s <= 14)
t = (int(t_lo) // step + 1) * step
while t < t_hi:
    svg.append(f'<line x1="{x(t):.1f}" y1="{top - 6}" x2="{x(t):.1f}" '
               f'y2="{top + row * len(shown)}" stroke="#eee"/>')
    svg.append(f'<text x="{x(t):.1f}" y="{top + row * len(shown) + 14}" '
               f'text-anchor="middle" fill="#777">{t} ms</text>')
    t += step
for i, (k, opened, closed, acked) in enumerate(shown):
    y = top + i * row
    svg.append(f'<text x="{left - 8}" y="{y + 12}" text-anchor="end">epoch {k}</text>')
    end_open = closed if closed is not None else t_hi
    svg.append(f'<rect x="{x(opened):.1f}" y="{y + 3}" width="{max(x(end_open) - x(opened), 1):.1f}" '
               f'height="{row - 6}" fill="#aed6f1"/>')
    if closed is not None:
        end_wait = acked if acked is not None else t_hi
        svg.append(f'<rect x="{x(closed):.1f}" y="{y + 3}" '
                   f'width="{max(x(end_wait) - x(closed), 1):.1f}" height="{row - 6}" fill="#f9e79f"/>')
    if acked is not None:
        svg.append(f'<line x1="{x(acked):.1f}" y1="{y + 1}" x2="{x(acked):.1f}" y2="{y + row - 1}" '
                   f'stroke="#1e8449" stroke-width="2"/>')
for seq, k, sent, arrived, bad in arrivals:
    if not shown[0][0] <= k <= shown[-1][0] or arrived > t_hi:
        continue
    y = top + (k - shown[0][0]) * row + row / 2
    colour = "#e74c3c" if bad else "#566573"
    r = 3 if bad else 1.6
    svg.append(f'<circle cx="{x(arrived):.1f}" cy="{y:.1f}" r="{r}" fill="{colour}"/>')
ly = top + row * len(shown) + 34
legend = [("#aed6f1", "open (packets buffered)"), ("#f9e79f", "closed, waiting for the ack"),
          ("#1e8449", "acknowledged (RELEASE_ONE)"), ("#566573", "arrival after the ack"),
          ("#e74c3c", "arrival BEFORE the ack (violation)")]
for i, (colour, label) in enumerate(legend):
    lx, yy = left + (i % 3) * 290, ly + (i // 3) * 18
    svg.append(f'<rect x="{lx}" y="{yy}" width="12" height="10" fill="{colour}"/>')
    svg.append(f'<text x="{lx + 16}" y="{yy + 9}">{label}</text>')
svg.append("</svg>")
open(out, "w").write("\n".join(svg) + "\n")
