"""Audio-visual forensics (Feng, Chen & Owens, CVPR 2023): a video is scored by how unlikely its sequence of
audio-visual synchronisation evidence is under autoregressive models trained on real videos.

Modules: ``video_encoder``, ``audio_encoder``, ``sync_transformer``, ``sync_arch`` (the sync model, official or
scaled down), ``mel`` (log-mel features), ``features`` (the sync model's per-step evidence, the fast path),
``pca``, ``regressive`` (the autoregressive models), ``scoring`` (the score definition), ``pipeline`` (the
detector), ``runner`` (the batch driver behind ``detect.py``), ``synthetic`` (tiny synthetic clips);
``training/`` trains the sync and anomaly models.
"""
