"""``python -m core.avforensics.training {sync,anomaly,synth} ...``; see :mod:`core.avforensics.training.cli`."""

from core.avforensics.training.cli import entry

if __name__ == "__main__":
    raise SystemExit(entry())
