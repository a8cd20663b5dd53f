"""Decode ahead: iterate a frame stream in a background thread while the caller computes on earlier frames.

Decoding (PyAV, OpenCV) runs in C and releases the GIL, so a thread that keeps a few frames ready overlaps it
with the models' work: on a GPU that is most of the decoding time; on a CPU the two share the cores. The items
come out in the same order and the same values, so results do not change. An exception of the stream (an
unreadable packet, say) reaches the caller where that item would have been. Closing (the ``with`` block's end)
stops the thread and waits for it, so the caller may close the decoder right after: the thread never touches
a closed container.

:class:`MapAhead` is the same idea one level up, for batch runs: whole items (a video's decoded clip) prepared
by a few worker threads while the caller scores the previous one, in the same order.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_ITEM, _ERROR, _END = range(3)
_POLL_S = 0.05  # how often a producer blocked on a full queue checks whether it should stop
_NOTHING = object()


class ReadAhead(Generic[T]):
    """``items``, produced by a background thread up to ``depth`` items ahead of the consumer.

    Use it as a context manager around the loop that consumes it::

        with ReadAhead(video, depth=8) as frames:
            for frame in frames:
                ...
    """

    def __init__(self, items: Iterable[T], depth: int = 8, name: str = "read-ahead") -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._started = False

    def _put(self, entry: tuple) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._put((_ITEM, item)):
                    return
        except BaseException as exc:  # noqa: BLE001 -- handed to the consumer, raised there
            self._put((_ERROR, exc))
            return
        self._put((_END, None))

    def __iter__(self) -> Iterator[T]:
        if not self._started:
            self._started = True
            self._thread.start()
        while True:
            kind, value = self._queue.get()
            if kind == _ITEM:
                yield value
            elif kind == _ERROR:
                raise value
            else:
                return

    def close(self) -> None:
        """Stop the producer (after the item it is decoding) and wait for it."""
        self._stop.set()
        if self._started:
            self._thread.join()

    def __enter__(self) -> "ReadAhead[T]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MapAhead(Generic[T, R]):
    """``function(item)`` for each of ``items``, in order, computed by ``workers`` background threads up to
    ``workers`` items ahead of the one the caller is using (``workers=0``: in the caller's thread, one at a time).

    The batch loops (detect.py's videos, score.py's (video, condition) pairs) load the next videos with it while
    the models score the current one. Use it as a context manager: leaving the block (at the end, or by an error)
    cancels the work not yet started and does not wait for the rest::

        with MapAhead(load, paths, workers=2) as loaded:
            for path, clip in zip(paths, loaded):
                ...
    """

    def __init__(self, function: Callable[[T], R], items: Iterable[T], workers: int = 0) -> None:
        if workers < 0:
            raise ValueError(f"workers must be at least 0, got {workers}")
        self._function = function
        self._items = iter(items)
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="map-ahead") if workers else None

    def __iter__(self) -> Iterator[R]:
        if self._pool is None:
            for item in self._items:
                yield self._function(item)
            return
        pending: deque[Future] = deque()
        exhausted = False
        while True:
            # The current item and up to ``workers`` more are submitted (as the loops did before this helper).
            while not exhausted and len(pending) <= self._workers:
                item = next(self._items, _NOTHING)
                if item is _NOTHING:
                    exhausted = True
                else:
                    pending.append(self._pool.submit(self._function, item))
            if not pending:
                return
            yield pending.popleft().result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> "MapAhead[T, R]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
