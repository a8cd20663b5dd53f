"""Audio-visual forensics (Feng, Chen & Owens, CVPR 2023): a video is scored by how unlikely its sequence of
audio-visual synchronisation evidence is under autoregressive models trained on real videos.

Modules: ``video_encoder``, ``audio_encoder``, ``sync_transformer`` (the sync model), ``regressive`` (the
autoregressive models), ``mel`` (log-mel features), ``pca``, ``scoring`` (the score definition),
``pipeline`` (the fast per-video detector), ``runner`` (the batch driver behind ``detect.py``).
"""
