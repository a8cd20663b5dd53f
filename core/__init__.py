"""AI-generated and manipulated video detection toolkit.

Sub-packages, one concern each:

- ``core.media``       video and audio decoding (streaming, in memory)
- ``core.flow``        RAFT optical flow and flow visualisation
- ``core.aigvdet``     AIGVDet: dual ResNet-50 spatial/temporal detectors and their fusion
- ``core.avforensics`` audio-visual forensics: sync model, autoregressive anomaly models, scoring
"""

__version__ = "0.1.0"
