"""Classifier preprocessing against torchvision's PIL path, which the reference uses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image

from core.aigvdet import center_crop_or_pad, fuse_scores, to_classifier_input, verdict


def reference_input(array: np.ndarray, normalize: bool) -> torch.Tensor:
    tensor = T.Compose([T.CenterCrop((448, 448)), T.ToTensor()])(Image.fromarray(array))
    if normalize:
        tensor = TF.normalize(tensor, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    return tensor


@pytest.mark.parametrize("height,width", [(130, 150), (449, 640), (500, 461), (448, 448), (300, 451), (720, 1280)])
@pytest.mark.parametrize("normalize", [True, False])
def test_matches_pil_center_crop_to_tensor(height, width, normalize):
    array = np.random.default_rng(height * width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    ours = to_classifier_input(torch.from_numpy(array).permute(2, 0, 1)[None], normalize=normalize)[0]
    torch.testing.assert_close(ours, reference_input(array, normalize), atol=1e-6, rtol=0)


def test_small_images_are_zero_padded_around_the_centre():
    image = torch.full((1, 3, 2, 3), 255, dtype=torch.uint8)
    out = center_crop_or_pad(image, 6)
    assert out.shape == (1, 3, 6, 6)
    assert out[0, 0].tolist() == [
        [0] * 6,
        [0] * 6,
        [0, 255, 255, 255, 0, 0],
        [0, 255, 255, 255, 0, 0],
        [0] * 6,
        [0] * 6,
    ]


def test_rejects_float_or_channels_last_input():
    with pytest.raises(ValueError):
        to_classifier_input(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError):
        to_classifier_input(torch.zeros(1, 8, 8, 3, dtype=torch.uint8))


def test_fusion_and_threshold():
    assert fuse_scores(0.2, 0.6) == pytest.approx(0.4)
    assert verdict(0.5, 0.5) == "fake"  # the reference: predict < threshold is real
    assert verdict(0.4999, 0.5) == "real"


def test_decoded_frames_become_plain_nchw_batches():
    # Frames stacked as (N, H, W, 3) and permuted are channels-last in memory; the classifier must get the
    # reference's NCHW layout, or oneDNN's channels-last kernels shift probabilities by about 2e-5.
    frames = torch.zeros(2, 500, 460, 3, dtype=torch.uint8).permute(0, 3, 1, 2)
    assert not frames.is_contiguous()
    assert to_classifier_input(frames).is_contiguous()


@pytest.mark.parametrize("height,width", [(130, 150), (449, 640), (500, 461), (448, 448), (300, 451), (720, 1280)])
def test_crop_region_holds_everything_the_crop_keeps(height, width):
    from core.aigvdet.preprocess import crop_region

    images = torch.randint(0, 256, (1, 3, height, width), dtype=torch.uint8)
    rows, cols = crop_region(height, width)
    assert rows.stop - rows.start == min(height, 448) and cols.stop - cols.start == min(width, 448)
    assert torch.equal(center_crop_or_pad(images[..., rows, cols]), center_crop_or_pad(images))
