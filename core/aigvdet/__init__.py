"""AIGVDet (Bai et al., PRCV 2024): spatial (RGB) and temporal (optical flow) ResNet-50 detectors."""

from core.aigvdet.classifier import ARCHS, build_classifier, load_classifier
from core.aigvdet.pipeline import AIGVDetPipeline, VideoResult
from core.aigvdet.preprocess import center_crop_or_pad, to_classifier_input
from core.aigvdet.scoring import fuse_scores, verdict

__all__ = [
    "ARCHS",
    "AIGVDetPipeline",
    "VideoResult",
    "build_classifier",
    "center_crop_or_pad",
    "fuse_scores",
    "load_classifier",
    "to_classifier_input",
    "verdict",
]
