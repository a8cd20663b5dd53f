"""Optical flow: RAFT (our implementation, official weights), streaming extraction, flow images."""

from core.flow.extractor import DEFAULT_ITERS, FlowExtractor, load_raft
from core.flow.padding import pad_to_multiple_of_8, sintel_padding
from core.flow.raft import RAFT
from core.flow.visualize import flow_to_classifier_rgb, flow_to_image

__all__ = [
    "DEFAULT_ITERS",
    "FlowExtractor",
    "RAFT",
    "flow_to_classifier_rgb",
    "flow_to_image",
    "load_raft",
    "pad_to_multiple_of_8",
    "sintel_padding",
]
