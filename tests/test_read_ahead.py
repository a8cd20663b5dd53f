"""ReadAhead: the same items in the same order, errors where they happened, and a producer that stops on close."""

from __future__ import annotations

import threading
import time

import pytest

from core.media.read_ahead import ReadAhead


def test_items_come_in_order_and_an_error_where_it_happened():
    with ReadAhead(range(100), depth=3) as ahead:
        assert list(ahead) == list(range(100))

    def failing():
        yield from range(5)
        raise ValueError("packet 5 is damaged")

    got = []
    with pytest.raises(ValueError, match="packet 5"), ReadAhead(failing(), depth=2) as ahead:
        for item in ahead:
            got.append(item)
    assert got == [0, 1, 2, 3, 4]  # every item before the error arrived first


def test_closing_early_stops_the_producer_before_the_decoder_is_closed():
    produced, closed = [], threading.Event()

    def decoder():
        for item in range(1000):
            assert not closed.is_set(), "read after the container was closed"
            produced.append(item)
            time.sleep(0.001)
            yield item

    with ReadAhead(decoder(), depth=4) as ahead:
        for item in ahead:
            if item == 10:
                break
    closed.set()  # what VideoReader's exit does right after
    assert 10 < len(produced) <= 10 + 1 + 4 + 1  # at most the queue and the item in hand ahead
    assert not any(t.name == "read-ahead" for t in threading.enumerate())
    with pytest.raises(ValueError):
        ReadAhead([], depth=0)
