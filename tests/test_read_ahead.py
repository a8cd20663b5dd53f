"""ReadAhead: the same items in the same order, errors where they happened, and a producer that stops on close."""

from __future__ import annotations

import threading
import time

import pytest

from core.media.read_ahead import MapAhead, ReadAhead


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


@pytest.mark.parametrize("workers", [0, 1, 3])
def test_map_ahead_gives_results_in_order_with_at_most_workers_items_ahead(workers):
    started, consumed = [], []

    def load(item):
        started.append(item)
        time.sleep(0.002 * (item % 3))  # later items may finish first: the order must not change
        return item * 10

    with MapAhead(load, range(20), workers) as loaded:
        for item, value in zip(range(20), loaded):
            assert value == item * 10
            consumed.append(item)
            assert len(started) <= item + 1 + workers  # the current item and at most ``workers`` more
    assert consumed == list(range(20)) and sorted(started) == list(range(20))


def test_map_ahead_raises_an_item_error_there_and_leaving_early_cancels_the_rest():
    def load(item):
        if item == 3:
            raise ValueError("video 3 is damaged")
        return item

    got = []
    with pytest.raises(ValueError, match="video 3"), MapAhead(load, range(10), 2) as loaded:
        for value in loaded:
            got.append(value)
    assert got == [0, 1, 2]
    started = []
    with MapAhead(lambda item: started.append(item) or time.sleep(0.01), range(100), 2) as loaded:
        next(iter(loaded))
    time.sleep(0.1)
    assert len(started) <= 4  # the first item and the two ahead (one more may have started): the rest cancelled
