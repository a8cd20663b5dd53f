"""Flow images: the colour wheel's values, and the disk convention the flow branch was trained on."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from core.flow import flow_to_classifier_rgb, flow_to_image
from core.flow.visualize import make_colorwheel

U = np.array([[0, 1, -1, 0], [0, 0.5, 2, -3], [1e-3, -0.7, 0.2, 4]], np.float32)
V = np.array([[0, 0, 0, 1], [-1, 0.5, -2, 1], [0, 0.7, -0.9, -4]], np.float32)
# Computed once with the reference's core/utils/flow_viz.flow_to_image on the field (U, V).
EXPECTED = [
    [[255, 255, 255], [255, 209, 209], [209, 246, 255], [255, 250, 209]],
    [[225, 209, 255], [255, 237, 223], [237, 127, 255], [112, 255, 227]],
    [[255, 254, 254], [216, 255, 210], [233, 213, 255], [220, 0, 255]],
]


def test_colorwheel_has_55_hues_starting_at_red():
    wheel = make_colorwheel()
    assert wheel.shape == (55, 3)
    assert wheel[0].tolist() == [255, 0, 0]
    assert wheel[15].tolist() == [255, 255, 0]  # yellow after the 15 red-yellow steps


def test_flow_to_image_matches_reference_values():
    image = flow_to_image(np.stack([U, V], axis=-1))
    assert image.dtype == np.uint8
    assert image.tolist() == EXPECTED


def test_flow_image_is_normalised_by_the_largest_magnitude():
    flow = np.stack([U, V], axis=-1)
    assert np.array_equal(flow_to_image(flow), flow_to_image(flow * 7.5))


def test_classifier_pixels_equal_the_reference_png_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    flow = cv2.resize(rng.normal(0, 4, (5, 6, 2)).astype(np.float32), (48, 40), interpolation=cv2.INTER_CUBIC)
    # The reference: cv2.imwrite(path, flow_to_image(flow)), later Image.open(path).convert("RGB").
    cv2.imwrite(str(tmp_path / "flow.png"), flow_to_image(flow))
    from_disk = np.asarray(Image.open(tmp_path / "flow.png").convert("RGB"))
    assert np.array_equal(flow_to_classifier_rgb(flow), from_disk)
    assert not np.array_equal(flow_to_image(flow), from_disk)  # the channel swap is real


def test_rejects_wrong_shape():
    with pytest.raises(ValueError, match="shape"):
        flow_to_image(np.zeros((4, 4, 3), np.float32))


def test_a_region_is_coloured_as_in_the_whole_image_normalised_by_the_whole_field():
    rng = np.random.default_rng(0)
    flow = (rng.standard_normal((40, 56, 2)) * 3).astype(np.float32)
    flow[0, 0] = (30, -40)  # the largest magnitude lies outside the region
    region = (slice(5, 37), slice(10, 42))
    assert np.array_equal(flow_to_classifier_rgb(flow, region), flow_to_classifier_rgb(flow)[region])
    assert not np.array_equal(flow_to_classifier_rgb(flow, region), flow_to_classifier_rgb(flow[region]))
