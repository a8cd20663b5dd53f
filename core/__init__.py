"""AI-generated and manipulated video detection toolkit.

Sub-packages, one concern each:

- ``core.media``       video and audio decoding (streaming, in memory)
- ``core.flow``        RAFT optical flow and flow visualisation
- ``core.aigvdet``     AIGVDet: dual ResNet-50 spatial/temporal detectors and their fusion
- ``core.avforensics`` audio-visual forensics: sync model, autoregressive anomaly models, scoring

Importing ``core`` (any part of it) first sets the OpenMP wait policy to ``PASSIVE`` unless the environment sets
one: idle OpenMP threads then sleep instead of spinning. Under load (a machine shared with other jobs, a few
cores) spinning threads that get descheduled stall their partners; runs measured minutes instead of seconds.
OpenMP reads the variable once, when torch loads its library, so it is set here, where every script's first
toolkit import runs it: the scripts import ``core`` before torch (those that import torch themselves say
``import core`` first). Set here rather than by a function each script calls, because a call placed before
the imports is easy to lose in a reordering and library users (tests, notebooks) get it too.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
