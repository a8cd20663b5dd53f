"""Faces in raw video: detection (MTCNN, weights inside the facenet-pytorch wheel), tracking over time, the
audio-visual detector's crop convention (SyncNet's pycrop, calibrated to MTCNN boxes), and per-track statuses.

Modules: ``detector`` (``FaceDetector``), ``tracks`` (``track_faces`` -> ``FaceTrack``), ``crop`` (``crop_track``),
``status`` (``select_main_track``, ``track_status``, ``looks_like_face_crop``).
"""
