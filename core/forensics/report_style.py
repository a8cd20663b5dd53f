"""The fixed parts of the report page: its style sheet and the guide to reading it."""

from __future__ import annotations

CSS = """
body { margin: 0; background: #f4f5f7; color: #1d232b; font: 15px/1.45 system-ui, -apple-system, "Segoe UI",
  Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 18px 24px 40px; }
header h1 { margin: 8px 0 2px; font-size: 26px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 14px 20px; margin: 16px 0; }
h2 { margin: 4px 0 10px; font-size: 20px; }
h3 { margin: 12px 0 6px; font-size: 16px; }
h4 { margin: 8px 0 4px; font-size: 14px; color: #3b4654; }
.muted { color: #5d6875; font-size: 13px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { flex: 1 1 300px; border: 1px solid #cfd6de; border-radius: 6px; padding: 8px 12px; background: #fafbfc; }
.card.off { background: #f1f2f4; color: #5d6875; }
.card p { margin: 4px 0; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-weight: 600; font-size: 13px; }
.badge.fake { background: #fbd5d5; color: #8a1111; }
.badge.real { background: #d3f0dc; color: #11602e; }
.badge.none { background: #e4e7eb; color: #444; }
figure { margin: 8px 0; }
figure.wide img { width: 100%; height: auto; }
figcaption { font-size: 12px; color: #5d6875; }
.row { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }
.row figure { margin: 0; max-width: 330px; }
.row img { border: 1px solid #cfd6de; image-rendering: pixelated; }
.group { display: inline-block; vertical-align: top; margin: 0 18px 8px 0; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0; }
th, td { text-align: left; padding: 3px 10px 3px 0; vertical-align: top; }
table.grid th, table.grid td { border-bottom: 1px solid #e6e9ed; padding-right: 14px; }
table.small { font-size: 11.5px; }
code { font-size: 11.5px; word-break: break-all; }
ul.warn li, p.warn { color: #7a4a00; }
details summary { cursor: pointer; color: #3b4654; font-size: 13px; }
"""

FUSION_TEXT = (
    "Fusion is defined only where every detector that ran is calibrated on videos of your own source: the "
    "fused verdict is fake when any detector's calibrated verdict is fake (so it flags at most the sum of their "
    "target false-positive rates of real videos), and the fused probability is the mean of their calibrated "
    "probabilities of fake when each calibration gives one."
)

READING_GUIDE = """
<ul>
<li><b>Raw scores.</b> AIGVDet gives a probability of fake per frame (RGB branch), per frame pair (optical-flow
branch) and fused (their mean); the video's score is the fused mean over all frames, called fake at its threshold
(0.5 by default, never calibrated for any particular source). The audio-visual detector gives an unbounded anomaly
score (how unlikely the sequence of audio-visual synchronisation is under models trained on real videos): higher
is more suspicious; it has no threshold until calibrated.</li>
<li><b>Calibrated verdicts.</b> A calibration file is fitted on scores of videos of your own source
(<code>calibrate.py</code>): its threshold flags at most the target share of those real videos (1% by default);
its calibrated value is a probability of fake (isotonic or Platt, fitted with fakes) or, fitted on real videos
only, the share of real videos that scored lower.</li>
<li><b>Timelines.</b> Curves hold from one sample to the next; red bars are the localised segments. The offset
map shows, per time step, how sure the synchronisation model is of each audio-to-video delay: real talking faces
show a bright band at 0; a dubbed or shifted soundtrack moves or blurs it.</li>
<li><b>Limits.</b> Detectors trained on one kind of video can be wrong on another; a calibrated verdict is only
as good as the calibration videos are like this one. Treat the report as evidence for a person to weigh.</li>
</ul>
"""
