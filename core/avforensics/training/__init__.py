"""Training of the audio-visual forensics models on real videos only.

Modules: ``data`` (video windows + shifted audio windows), ``sync`` (two-phase sync training), ``anomaly``
(PCA + autoregressive models, on sequences extracted by :mod:`core.avforensics.features`), ``cli`` (``python -m
core.avforensics.training``). The run folder, DDP and precision come from :mod:`core.runs`, shared with
AIGVDet's trainer; tiny synthetic clips for small runs come from :mod:`core.avforensics.synthetic`.
"""
