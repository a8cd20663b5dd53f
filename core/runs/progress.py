"""Progress bars for long work on frames: tqdm on stderr (stdout keeps the scripts' result lines), with a rate.

On a terminal a bar redraws as usual. Elsewhere (a log file, a pipe, a test capturing output) it appears only
for work that lasts (``delay``, 10 s) and refreshes at most every 30 s, so a long run shows that it is alive and
how fast it goes (frames/s) without filling a log with thousands of redraws.

Every bar of the toolkit (frames, videos, training batches and epochs) is made here, so one switch (``enabled``,
which the scripts set from their progress option) hides them all.
"""

from __future__ import annotations

import sys
from typing import Iterable

from tqdm import tqdm

NON_TTY_DELAY_S = 10.0
NON_TTY_INTERVAL_S = 30.0


def progress_bar(
    total: int | None,
    desc: str,
    unit: str = "frame",
    leave: bool = False,
    enabled: bool = True,
    iterable: Iterable | None = None,
    initial: int = 0,
) -> tqdm:
    """A tqdm bar of ``total`` ``unit``s (None or 0: unknown total, the rate still shows; with ``iterable``, its
    length); iterate it when ``iterable`` is given. ``initial``: units done before (a resumed run)."""
    tty = sys.stderr.isatty()
    return tqdm(
        iterable,
        total=total or None,
        initial=initial,
        desc=desc,
        unit=unit,
        leave=leave,
        disable=not enabled,
        file=sys.stderr,
        delay=0.0 if tty else NON_TTY_DELAY_S,
        mininterval=0.1 if tty else NON_TTY_INTERVAL_S,
        dynamic_ncols=tty,
    )
