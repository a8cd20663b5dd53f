"""The report page's Provenance section (a declaration detector's details: content credentials, container facts,
hints) and the fusion card of a verdict settled by a verified declaration."""

from __future__ import annotations

from typing import Any

from core.forensics.report_html import table, text, verdict_badge

ABOUT = (
    "Content credentials (C2PA) are signed statements a tool or camera embeds in the file: who signed, with what "
    "tool, what was done (created by a generative model, captured, edited). A valid signature proves the file is "
    "unchanged since signing and who signed it (when the signer is verified against trust anchors you chose), not "
    "that the statement is true. No credentials proves nothing: most videos carry none, and re-encoding removes "
    "them. Container facts and hints describe how the file was written; they are never a verdict."
)


def _actions(manifest: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{text(a['action'] or '')}</td><td>{text(a['digital_source_type'] or '')}</td>"
        f"<td>{text(a['software_agent'] or '')}</td><td>{text(a['when'] or '')}</td></tr>"
        for a in manifest["actions"]
    )
    if not rows:
        return ""
    head = "<tr><th>action</th><th>digital source type</th><th>software agent</th><th>when</th></tr>"
    return f"<table class='grid small'>{head}{rows}</table>"


def _manifest(manifest: dict[str, Any], role: str) -> str:
    signer = manifest["signer"]
    rows = [
        ("claim generator", text(manifest["claim_generator"] or "not stated")),
        ("signer", text(", ".join(f"{k} {v}" for k, v in signer.items() if v and k != "serial") or "not stated")),
        ("signing time", text(manifest["signing_time"] or "not stated (no time-stamp)")),
    ]
    ingredients = ", ".join(f"{i['title']} ({i['relationship']})" for i in manifest["ingredients"])
    if ingredients:
        rows.append(("ingredients", text(ingredients)))
    return f"<h4>{text(role)}: {text(manifest['label'])}</h4>{table(rows)}{_actions(manifest)}"


def _container(container: dict[str, Any]) -> str:
    if not container.get("readable"):
        return f"<p class='warn'>{text(container.get('problem', 'the container could not be read'))}</p>"
    rows = [("format", text(container["format"]))]
    if container.get("major_brand") is not None:
        brands = ", ".join(container["compatible_brands"])
        rows.append(("brands", text(f"{container['major_brand']} (compatible: {brands})")))
        rows.append(("top-level boxes", text(" ".join(container["top_level_boxes"]))))
        created, modified = container["movie_creation_time"], container["movie_modification_time"]
        times = f"created {created or 'not set'}, modified {modified or 'not set'}"
        rows.append(("movie header", text(times)))
    for key in ("encoder", "encoding_tool", "creation_time"):
        if container.get(key):
            rows.append((key.replace("_", " "), text(container[key])))
    rows.append(("video streams", str(container["video_streams"])))
    for stream in container["streams"]:
        parts = [stream["codec"], f"starts {stream['start_s']:.3f} s" if stream["start_s"] is not None else None]
        parts += [stream.get("handler_name"), stream.get("encoder")]
        rows.append((f"stream {stream['index']} ({stream['type']})", text(", ".join(p for p in parts if p))))
    for track in container.get("tracks", []):
        if track["edit_list"]:
            edits = "; ".join(
                f"media time {e['media_time']}, duration {e['segment_duration']}" for e in track["edit_list"]
            )
            rows.append((f"edit list ({track['handler']})", text(edits)))
    return table(rows)


def provenance_section(record: dict[str, Any]) -> str:
    """The section of a report's ``provenance`` record (see the module docstring)."""
    credentials = record["credentials"]
    rows = [("category", f"<strong>{text(record['category'])}</strong>"), ("validation", text(record["validation"]))]
    if record.get("signer"):
        rows.append(("signer", text(record["signer"])))
    if record.get("generator"):
        rows.append(("tool", text(record["generator"])))
    parts = [f"<section><h2>Provenance</h2>{table(rows)}"]
    if record.get("meaning"):
        parts.append(f"<p><strong>{text(record['meaning'])}</strong></p>")
    if record.get("declared_because"):
        parts.append(f"<p>The verdict is fake because {text(record['declared_because'])}.</p>")
    failures = "".join(f"<li>{text(f['code'])}: {text(f['explanation'])}</li>" for f in credentials["failures"])
    if failures:
        parts.append(f"<h3>Failed checks</h3><ul class='warn'>{failures}</ul>")
    if credentials.get("active"):
        parts.append(_manifest(credentials["active"], "active manifest"))
    parts += [_manifest(m, "ingredient manifest") for m in credentials.get("chain", [])]
    parts.append(f"<h3>Container</h3>{_container(record['container'])}")
    hints = "".join(f"<li>{text(h)}</li>" for h in record["hints"]) or "<li>none</li>"
    parts.append(f"<h3>Hints (facts, not a verdict)</h3><ul>{hints}</ul><p class='muted'>{text(ABOUT)}</p></section>")
    return "".join(parts)


def declared_fusion_card(fusion: dict[str, Any]) -> str:
    """The fusion card when a verified declaration settled the verdict: why, and what the detectors said."""
    detectors = fusion["detectors_fusion"]
    said = f"the detectors' fusion: {detectors['verdict']}" if detectors.get("fused") else detectors["reason"]
    return (
        f'<div class="card"><h3>Fusion</h3><p>{verdict_badge(fusion["verdict"])} declared: '
        f"{text(fusion['because'])}.</p><p>{text(fusion['rule'])} ({text(said)}).</p></div>"
    )
