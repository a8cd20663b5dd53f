"""Evaluation metrics shared by testing, training validation, calibration and batch scoring.

``classification``: video- and frame-level fake/real metrics (AUC, AP, EER, TPR at low FPR, accuracies,
bootstrap intervals, a summary dictionary). ``localisation``: temporal localisation of fake segments (AP@IoU,
AR@N as the AV-Deepfake1M benchmark defines them).
"""
