"""The forensic report as one self-contained HTML page: inline CSS, figures as PNG data URIs, no script, no link.

Nothing on the page is fetched: every picture is embedded, and web addresses in the text (where to get a
missing weight file) are printed without their scheme so the page holds no link at all (the JSON keeps them
whole). Everything shown comes from the report's record and the detectors' evidence.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from core.forensics.calibration import Calibration
from core.forensics.evidence import Evidence, ScoreKind
from core.forensics.report_figures import calibration_png, heatmap_png, thumbnail_png, timeline_png
from core.forensics.report_style import CSS, FUSION_TEXT, READING_GUIDE
from core.forensics.verdicts import is_declaration
from core.runs.status import has_score

if TYPE_CHECKING:  # report.py imports this module when it writes
    from core.forensics.report import Report


def text(value: Any) -> str:
    """Escaped text, web addresses without their scheme (see the module docstring)."""
    return html.escape(re.sub(r"\b[hH][tT][tT][pP][sS]?://", "", str(value)))


def number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return text(value)
    return f"{value:.{digits}g}"


def image(png: bytes, alt: str, css: str = "") -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="{css}" alt="{text(alt)}" src="data:image/png;base64,{data}">'


def table(rows: Iterable[tuple[str, str]], css: str = "facts") -> str:
    body = "".join(f"<tr><th>{text(key)}</th><td>{value}</td></tr>" for key, value in rows)
    return f'<table class="{css}">{body}</table>'


def verdict_badge(verdict: str | None) -> str:
    if verdict is None:
        return '<span class="badge none">no verdict</span>'
    return f'<span class="badge {text(verdict)}">{text(verdict)}</span>'


def verdict_lines(record: dict[str, Any]) -> str:
    """The raw and the calibrated verdict of a detector that ran, as paragraphs."""
    raw = f"raw {number(record['score'])} ({text(record['score_meaning'])})"
    if record["threshold"] is not None:
        raw += f", threshold {number(record['threshold'])}: {verdict_badge(record['verdict'])}"
    else:
        raw += ": no threshold until calibrated"
    calibration = record["calibration"]
    if calibration is None:
        return f'<p>{raw}</p><p class="muted">not calibrated for this source</p>'
    return (
        f"<p>{raw}</p><p>calibrated {number(calibration['calibrated'], 3)} ({text(calibration['meaning'])}): "
        f"{verdict_badge(calibration['calibrated_verdict'])} at {number(calibration['calibrated_threshold'])} "
        f"({calibration['target_fpr']:.1%} false positives)</p>"
    )


def summary_card(record: dict[str, Any]) -> str:
    title = f"<h3>{text(record['title'])}</h3>"
    if not has_score(record["status"]):
        return f'<div class="card off">{title}<p>{text(record["status"])}: {text(record["reason"])}</p></div>'
    return f'<div class="card">{title}{verdict_lines(record)}</div>'


def fusion_card(fusion: dict[str, Any]) -> str:
    if "declared_by" in fusion:  # a verified declaration settled it
        from core.forensics.report_provenance import declared_fusion_card

        return declared_fusion_card(fusion)
    if not fusion["fused"]:
        return f'<div class="card off"><h3>Fusion</h3><p>{text(fusion["reason"])}</p></div>'
    flagged = ", ".join(fusion["flagged_by"]) or "no detector"
    probability = (
        f"mean calibrated probability of fake {number(fusion['probability'], 3)}"
        if fusion["probability"] is not None
        else text(fusion["probability_note"])
    )
    return (
        f'<div class="card"><h3>Fusion</h3><p>{verdict_badge(fusion["verdict"])} flagged by {text(flagged)}; '
        f"{text(fusion['rule'])} (at most {fusion['false_positive_bound']:.1%} false positives)</p>"
        f"<p>{probability}</p></div>"
    )


def illustrations_html(evidence: Evidence) -> str:
    groups: dict[str, list[str]] = {}
    for picture in evidence.illustrations:
        caption = f"{text(picture.label)}, {picture.time_s:.2f} s<br>{text(picture.caption)}"
        groups.setdefault(picture.group, []).append(
            f"<figure>{image(thumbnail_png(picture.image), picture.label)}<figcaption>{caption}</figcaption></figure>"
        )
    return "".join(
        f'<div class="group"><h4>{text(group)}</h4><div class="row">{"".join(items)}</div></div>'
        for group, items in groups.items()
    )


def segments_table(segments: list[dict[str, Any]], rule: str | None) -> str:
    if rule is None:
        return ""
    if not segments:
        return f'<p class="muted">No localised segment ({text(rule)}).</p>'
    rows = "".join(
        f"<tr><td>{s['start_s']:.2f}</td><td>{s['end_s']:.2f}</td><td>{s['end_s'] - s['start_s']:.2f}</td>"
        f"<td>{number(s.get('peak'))}</td><td>{number(s.get('mean'))}</td></tr>"
        for s in segments
    )
    return (
        f"<p>Localised segments: {text(rule)}.</p><table class='grid'><tr><th>start (s)</th><th>end (s)</th>"
        f"<th>length (s)</th><th>peak</th><th>mean</th></tr>{rows}</table>"
    )


def figures_html(record: dict[str, Any], evidence: Evidence, calibration: Calibration | None) -> str:
    from core.forensics.report import primary_series

    parts = []
    curves = {name: s for name, s in evidence.series.items() if np.ndim(s.values) == 1 and len(s)}
    primary = primary_series(evidence)
    probability = evidence.score_kind == ScoreKind.PROBABILITY
    if curves:
        threshold = evidence.threshold if probability else evidence.details.get("segment_threshold")
        png = timeline_png(
            curves,
            primary[0] if primary else None,
            threshold,
            "threshold" if probability else "segment threshold",
            record["segments"],
            "fake probability" if probability else "anomaly",
            f"{primary[0]}: {primary[1].description}" if primary else "",
            [s for s in record["details"].get("coverage", []) if s["status"] != "scored"]
            + record["details"].get("not_analysed", []),
        )
        parts.append(f"<figure class='wide'>{image(png, record['name'] + ' timeline')}</figure>")
    parts.append(segments_table(record["segments"], record["segment_rule"]))
    for name, series in evidence.series.items():
        if np.ndim(series.values) == 2 and len(series) > 0:
            png = heatmap_png(name, series)
            caption = (
                "Each column is one time step's distribution over the offsets (softmax of the logits): a bright "
                "band at 0 means the audio and the mouth agree there."
                if name.endswith("logits")
                else series.description
            )
            parts.append(f"<figure class='wide'>{image(png, name)}<figcaption>{text(caption)}</figcaption></figure>")
    if calibration is not None:
        png = calibration_png(calibration, evidence.score, "raw score")
        parts.append(
            f"<figure>{image(png, 'calibration')}<figcaption>Calibration ({text(calibration.method)}, "
            f"{calibration.real_count} real and {calibration.fake_count} fake videos): raw score to calibrated "
            "value, and where this video falls.</figcaption></figure>"
        )
    return "".join(parts)


def scalar_details(details: dict[str, Any]) -> list[tuple[str, str]]:
    return [(key, number(value, 6)) for key, value in details.items() if isinstance(value, (int, float, str))]


def detector_section(record: dict[str, Any], evidence: Evidence | None, calibration: Calibration | None) -> str:
    head = f"<section><h2>{text(record['title'])}</h2><p class='muted'>{text(record['about'])}</p>"
    if not has_score(record["status"]) or evidence is None:
        return f"{head}<p class='warn'>{text(record['status'])}: {text(record['reason'])}</p></section>"
    facts = record["facts"]
    seen = (
        f"{facts['frames']} frames at {number(facts['fps'])} fps, {facts['width']}x{facts['height']} "
        f"({number(record['seconds'], 3)} s of analysis)"
    )
    warnings = "".join(f"<li>{text(w)}</li>" for w in record["warnings"])
    parts = [
        head,
        f'<div class="card">{verdict_lines(record)}</div>',
        f"<p>Looked at: {seen}.</p>",
        figures_html(record, evidence, calibration),
    ]
    if evidence.illustrations:
        parts.append(f"<h3>Frames</h3>{illustrations_html(evidence)}")
    if warnings:
        parts.append(f"<h3>Warnings</h3><ul class='warn'>{warnings}</ul>")
    parts.append(f"<details><summary>Details</summary>{table(scalar_details(record['details']))}</details>")
    return "".join(parts) + "</section>"


def video_facts(video: dict[str, Any]) -> str:
    interval = video["frame_interval_s"]
    rate = f"{number(video['fps'])} fps"
    if video["variable_frame_rate"] and interval:
        rate += f", variable (frame intervals {interval[0]:.4f}-{interval[1]:.4f} s)"
    audio = (
        f"{text(video['audio_codec'])}, {video['audio_sample_rate']} Hz, {video['audio_channels']} channel(s)"
        if video["audio"]
        else "none"
    )
    return table(
        [
            ("file", text(video["path"])),
            ("size on disk", f"{video['file_bytes']:,} bytes"),
            ("container", text(video["container"])),
            ("duration", f"{number(video['duration_s'])} s"),
            ("frame size", f"{video['width']} x {video['height']}"),
            ("frames", str(video["frames"])),
            ("frame rate", rate),
            ("video codec", f"{text(video['video_codec'])} ({text(video['pixel_format'])})"),
            ("audio", audio),
        ]
    )


def made_with(data: dict[str, Any]) -> str:
    versions = data["versions"]
    toolkit = versions["toolkit"]
    commit = "unknown (not a git checkout)"
    if toolkit:
        commit = f"<code>{text(toolkit['commit'])}</code>" + (" (with local changes)" if toolkit["modified"] else "")
    rows = [("toolkit commit", commit), ("python", text(versions["python"])), ("platform", text(versions["platform"]))]
    rows += [(name, text(version or "not installed")) for name, version in versions["packages"].items()]
    files = "".join(
        f"<tr><td>{text(record['title'])}</td><td>{text(f['role'])}</td><td>{text(f['path'])}</td>"
        f"<td><code>{text(f['sha256'])}</code></td></tr>"
        for record in data["detectors"].values()
        for f in record.get("checkpoints", [])
    )
    return (
        table(rows)
        + "<h3>Files</h3><table class='grid small'><tr><th>detector</th><th>role</th><th>path</th><th>sha256</th>"
        + f"</tr>{files}</table>"
    )


def render_html(report: Report) -> str:
    """The page of ``report`` (see the module docstring)."""
    data, calibrations = report.data, report.calibrations
    detectors = data["detectors"]
    name = data["video"]["name"]
    # A declaration (provenance) has its own section at the top, not a detector's card and section.
    estimates = {key: record for key, record in detectors.items() if not is_declaration(record)}
    cards = "".join(summary_card(record) for record in estimates.values()) + fusion_card(data["fusion"])
    sections = "".join(
        detector_section(record, report.evidence.get(key), calibrations.get(key)) for key, record in estimates.items()
    )
    provenance = ""
    if "provenance" in data:
        from core.forensics.report_provenance import provenance_section

        provenance = provenance_section(data["provenance"])
    warnings = "".join(f"<li>{text(w)}</li>" for w in data["warnings"]) or "<li>none</li>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Forensic report: {text(name)}</title><style>{CSS}</style></head>
<body><main>
<header><h1>Forensic report: {text(name)}</h1>
<p class="muted">{text(data["video"]["path"])} &middot; made {text(data["created"])}</p></header>
{provenance}<section><h2>Verdicts</h2><div class="cards">{cards}</div><p class="muted">{text(FUSION_TEXT)}</p></section>
{sections}
<section><h2>The video</h2>{video_facts(data["video"])}</section>
<section><h2>Warnings and statuses</h2><ul class="warn">{warnings}</ul></section>
<section><h2>Made with</h2>{made_with(data)}</section>
<section><h2>How to read this report</h2>{READING_GUIDE}</section>
</main></body></html>
"""
