"""Facts about a video's container, and hints that it was re-muxed or re-encoded: never a verdict.

PyAV gives the format, the container's and each stream's tags (encoder, handler, creation time), the streams'
codecs and start times; :mod:`core.provenance.boxes` adds what PyAV does not show for MP4/MOV (compatible
brands, the movie header's creation and modification times, edit lists). A hint says what a fact is consistent
with (software muxing, editing, a later re-encode); ordinary files show several of them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from core.media.in_memory import VideoSource, open_container
from core.provenance.boxes import BoxFacts

log = logging.getLogger(__name__)

# Encoder strings of software libraries and tools (a camera writes its own firmware's name, or none).
SOFTWARE_ENCODERS = re.compile(r"\b(Lavf|Lavc|libx264|libx265|x264|x265|HandBrake|ffmpeg|libvpx|libaom|SVT)", re.I)
MAX_TAG = 200  # characters of one tag value kept


def _tags(metadata: dict[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v)[:MAX_TAG] for k, v in list(metadata.items())[:50]}


def container_facts(source: VideoSource, boxes: BoxFacts) -> dict[str, Any]:
    """The container's facts (see the module docstring); ``{"readable": False, "problem": ...}`` for a file PyAV
    cannot open."""
    facts: dict[str, Any] = {"readable": True}
    try:
        container = open_container(source)
    except Exception as exc:  # PyAV raises one error class per FFmpeg error code
        return {"readable": False, "problem": f"the container could not be read: {exc}"}
    with container:
        tags = _tags(container.metadata)
        streams = []
        for stream in container.streams:
            codec = stream.codec_context
            stream_tags = _tags(stream.metadata)
            start = stream.start_time * stream.time_base if stream.start_time is not None and stream.time_base else None
            streams.append(
                {
                    "index": stream.index,
                    "type": stream.type,
                    "codec": codec.name if codec is not None else None,
                    "start_s": float(start) if start is not None else None,
                    "handler_name": stream_tags.get("handler_name"),
                    "encoder": stream_tags.get("encoder"),
                    "creation_time": stream_tags.get("creation_time"),
                    **(
                        {"width": codec.width, "height": codec.height, "fps": float(stream.average_rate or 0)}
                        if stream.type == "video"
                        else {}
                    ),
                }
            )
        facts |= {
            "format": container.format.name,
            "encoder": tags.get("encoder"),
            "creation_time": tags.get("creation_time"),
            "tags": tags,
            "streams": streams,
            "video_streams": sum(s["type"] == "video" for s in streams),
        }
    if boxes.is_bmff:
        facts |= {
            "major_brand": boxes.major_brand,
            "compatible_brands": boxes.compatible_brands,
            "top_level_boxes": boxes.top_level[:64],
            "movie_creation_time": boxes.creation_time,
            "movie_modification_time": boxes.modification_time,
            "tracks": boxes.tracks,
            "encoding_tool": boxes.tags.get("\xa9too"),
            "box_problems": boxes.problems,
        }
    return facts


def hints(facts: dict[str, Any]) -> list[str]:
    """What the facts are consistent with (see the module docstring); each hint names its fact."""
    if not facts.get("readable"):
        return []
    found = []
    encoders = [facts.get("encoder"), facts.get("encoding_tool")] + [s["encoder"] for s in facts["streams"]]
    software = sorted({e for e in encoders if e and SOFTWARE_ENCODERS.search(e)})
    if software:
        found.append(
            f"encoder {', '.join(software)}: written by software (FFmpeg or an encoding library), so re-muxed or "
            "re-encoded after capture, or made by software in the first place"
        )
    if facts.get("major_brand") is not None or facts["format"] in ("mov,mp4,m4a,3gp,3g2,mj2",):
        if not (facts.get("movie_creation_time") or facts.get("creation_time")):
            found.append("no creation time: cameras and phones set one; software that re-muxes often leaves it out")
        created, modified = facts.get("movie_creation_time"), facts.get("movie_modification_time")
        if created and modified and modified > created:
            found.append(f"modified ({modified}) after it was created ({created})")
    for track in facts.get("tracks", []):
        segments = [e for e in track["edit_list"] if e["media_time"] != -1]  # -1: an empty edit (a delay)
        if len(segments) > 1:
            found.append(
                f"{track['handler'] or 'a'} track plays {len(segments)} segments (edit list): cut or joined by an "
                "editor without re-encoding"
            )
    starts = {s["start_s"] for s in facts["streams"] if s["start_s"] is not None and s["type"] in ("video", "audio")}
    if len(starts) > 1 and max(starts) - min(starts) > 0.1:
        found.append(
            f"streams start {max(starts) - min(starts):.3f} s apart: trimmed, or audio and video muxed separately"
        )
    if facts["video_streams"] > 1:
        found.append(f"{facts['video_streams']} video streams: an edited or assembled file, or a thumbnail track")
    if facts.get("box_problems"):
        found.append("malformed boxes: " + "; ".join(facts["box_problems"][:3]))
    return found
