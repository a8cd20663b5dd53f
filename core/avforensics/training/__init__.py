"""Training of the audio-visual forensics models on real videos only (issue 6).

Modules: ``data`` (video lists, video windows + shifted audio windows), ``models`` (sync model at official or
reduced size, export in the official layout), ``extract`` (per-video logits and features by the detector's
own code), ``sync`` (two-phase sync training), ``anomaly`` (PCA + autoregressive models), ``runs`` (run
folder, resume, DDP, autocast), ``synthetic`` (tiny synthetic clips), ``cli`` (``python -m
core.avforensics.training``).
"""
