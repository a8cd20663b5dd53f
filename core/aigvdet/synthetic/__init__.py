"""A small synthetic world of labelled "real" and "fake" videos for tests and a CPU quickstart.

Detectors trained on it detect nothing real: the "fakes" carry toy artefacts made up for this world.

Layout under ``--out`` (default ``data/synthetic``), ``<name>`` defaulting to ``synth``::

    videos/{train,val,test}/<name>/{0_real,1_fake}/video_00000.avi       the clips (MJPG)
    rgb/{train,val,test}/<name>/{0_real,1_fake}/video_00000/frame_00000.png  frames, as decoded from the clips
    flow/{train,val,test}/<name>/{0_real,1_fake}/video_00000/frame_00000.png  flow images (OpenCV DIS flow)

``rgb`` and ``flow`` are each a ``dataset_root`` for train.py; ``rgb/test/<name>`` and ``flow/test/<name>``
are test.py's ``-for`` and ``-fop`` folders.

Command line (``python -m core.aigvdet.synthetic --help``)::

    python -m core.aigvdet.synthetic [--out DIR] [--name NAME] [--train N] [--val N] [--test N]
                             [--frames N] [--size H W] [--fps F] [--seed S]

``--train/--val/--test``: videos per class in each split (96/16/4); ``--frames``: frames per video (4);
``--size``: frame height and width (128 128; demo.py's RAFT needs at least 121); the same ``--seed`` gives the
same world.
"""

from core.aigvdet.synthetic.world import WorldSpec, generate

__all__ = ["WorldSpec", "generate"]
