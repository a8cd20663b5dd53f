"""RAFT: our modules against torchvision's independent implementation, checkpoint loading, shared work."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torchvision.models.optical_flow import raft_large, raft_small

from core.errors import CheckpointError
from core.flow import RAFT, FlowExtractor, load_raft, pad_to_multiple_of_8
from tests import factories


def torchvision_key(key: str) -> str | None:
    """Name of one of our (official) RAFT keys in torchvision's RAFT; None for keys it stores once only."""
    key = re.sub(r"^fnet\.", "feature_encoder.", key)
    key = re.sub(r"^cnet\.", "context_encoder.", key)
    key = re.sub(r"_encoder\.conv1\.", "_encoder.convnormrelu.0.", key)
    key = re.sub(r"_encoder\.norm1\.", "_encoder.convnormrelu.1.", key)
    key = re.sub(r"_encoder\.conv2\.", "_encoder.conv.", key)
    match = re.match(r"(.*_encoder\.layer\d\.\d\.)(conv|norm)(\d)\.(.*)", key)
    if match:
        prefix, kind, index, rest = match.groups()
        return f"{prefix}convnormrelu{index}.{0 if kind == 'conv' else 1}.{rest}"
    key = key.replace("update_block.encoder.convc", "update_block.motion_encoder.convcorr")
    key = key.replace("update_block.encoder.convf", "update_block.motion_encoder.convflow")
    key = key.replace("update_block.encoder.conv.", "update_block.motion_encoder.conv.0.")
    key = re.sub(r"motion_encoder\.(convcorr\d|convflow\d)\.", r"motion_encoder.\1.0.", key)
    key = re.sub(r"update_block\.gru\.conv([zrq])([12])\.", r"update_block.recurrent_block.convgru\2.conv\1.", key)
    key = re.sub(r"update_block\.gru\.conv([zrq])\.", r"update_block.recurrent_block.convgru1.conv\1.", key)
    key = key.replace("update_block.mask.0.", "mask_predictor.convrelu.0.")
    key = key.replace("update_block.mask.2.", "mask_predictor.conv.")
    return key


def to_torchvision(ours: RAFT, small: bool):
    theirs = (raft_small if small else raft_large)(weights=None).eval()
    expected = theirs.state_dict()
    mapped = {}
    for key, value in ours.state_dict().items():
        name = torchvision_key(key)
        if name in expected:
            mapped[name] = value
    theirs.load_state_dict(mapped, strict=True)
    return theirs


@pytest.mark.parametrize("small", [False, True])
def test_matches_torchvision_raft(small):
    ours = factories.random_raft(11, small=small)
    theirs = to_torchvision(ours, small)
    frames = factories.moving_texture_frames(2, 128, 136, seed=3, step=3)
    images = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()
    with torch.inference_mode():
        _, ours_flow = ours(images[:1], images[1:], iters=6)
        theirs_flow = theirs(2 * images[:1] / 255 - 1, 2 * images[1:] / 255 - 1, num_flow_updates=6)[-1]
    assert ours_flow.shape == (1, 2, 128, 136)
    assert ours_flow.abs().max() > 0.1  # the flow is not trivially zero
    torch.testing.assert_close(ours_flow, theirs_flow, atol=1e-4, rtol=1e-4)


def test_consecutive_pairs_share_features_and_match_per_pair():
    model = factories.random_raft(12)
    frames = factories.moving_texture_frames(5, 130, 150, seed=4)
    per_pair = []
    with torch.inference_mode():
        for first, second in zip(frames[:-1], frames[1:]):
            pair = pad_to_multiple_of_8(torch.from_numpy(np.stack([first, second])).permute(0, 3, 1, 2).float())
            per_pair.append(model(pair[:1], pair[1:], iters=5)[1][0])
    calls = []
    model.fnet.register_forward_hook(lambda _m, inputs, _o: calls.append(inputs[0].shape[0]))
    # batch_size 2 puts pair borders inside and across chunks.
    streamed = factories.stream_flows(FlowExtractor(model, iters=5, batch_size=2), frames)
    assert len(streamed) == 4
    assert sum(calls) == 5  # each frame encoded once (the reference encodes 8 = 2 per pair)
    for ours, reference in zip(streamed, per_pair):
        assert ours.shape == (2, 136, 152)  # padded, as the reference keeps it
        torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("prefix", [True, False])
def test_official_layout_loads_with_or_without_module_prefix(tmp_path, prefix):
    model = factories.random_raft(13, small=True)
    path = factories.save_raft(tmp_path / "raft-small.pth", model, module_prefix=prefix)
    loaded = load_raft(path, small=True)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_wrong_variant_and_foreign_keys_are_named(tmp_path):
    small = factories.save_raft(tmp_path / "raft-small.pth", factories.random_raft(14, small=True))
    with pytest.raises(CheckpointError, match="is for RAFT-small"):
        load_raft(small, small=False)
    state = {f"module.{k}": v for k, v in RAFT().state_dict().items()}
    state["module.extra.weight"] = torch.zeros(1)
    del state["module.update_block.mask.2.bias"]
    torch.save(state, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError, match=r"missing: update_block\.mask\.2\.bias.*unexpected: extra\.weight"):
        load_raft(tmp_path / "odd.pth")


def test_missing_checkpoint_says_where_to_get_it(tmp_path):
    with pytest.raises(CheckpointError, match=r"raft-things\.pth.*princeton-vl/RAFT"):
        load_raft(tmp_path / "raft-things.pth")


def test_frames_too_small_for_the_correlation_pyramid_are_refused():
    model = factories.random_raft(15)
    frames = torch.zeros(2, 3, 120, 240)
    with pytest.raises(ValueError, match="too small"):
        model(frames[:1], frames[1:], iters=1)


@pytest.mark.parametrize("dim", [256, 128])  # raft-things (sqrt 16, scaled beforehand) and raft-small (in place)
def test_correlation_volume_has_the_reference_bits(dim):
    from core.flow.corr import CorrBlock

    torch.manual_seed(0)
    fmap1, fmap2 = torch.randn(2, dim, 8, 16), torch.randn(2, dim, 8, 16)
    # The reference: product of the flattened features, then division by sqrt(dim) as a float32 tensor.
    expected = torch.matmul(fmap1.view(2, dim, 128).transpose(1, 2), fmap2.view(2, dim, 128))
    expected = (expected / torch.sqrt(torch.tensor(dim).float())).view(256, 1, 8, 16)
    assert torch.equal(CorrBlock(fmap1, fmap2).pyramid[0], expected)


@pytest.mark.parametrize("small", [False, True])
def test_channels_last_flows_match_the_default_layout(tmp_path, small):
    path = tmp_path / "raft.pth"
    torch.save(factories.random_raft(13, small=small).state_dict(), path)
    default, fast = (load_raft(path, small=small, channels_last=flag) for flag in (False, True))
    kernels = [p for p in fast.parameters() if p.dim() == 4]
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in kernels)  # kept through loading
    assert not default.fnet.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    frames = factories.moving_texture_frames(3, 128, 136, seed=5, step=2)
    default_flows = factories.stream_flows(FlowExtractor(default, iters=6), frames)
    fast_flows = factories.stream_flows(FlowExtractor(fast, iters=6), frames)
    assert default_flows[0].abs().max() > 0.1
    for ours, reference in zip(fast_flows, default_flows):
        assert ours.is_contiguous()  # the flow images read it as a plain array
        torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-4)


def test_instance_norm_on_channels_last_input_takes_the_group_norm_kernel_with_the_same_statistics():
    from core.flow.encoders import InstanceNorm2d

    x = torch.randn(2, 8, 24, 40) * 3 + 1
    norm = InstanceNorm2d(8)
    assert torch.equal(norm(x), torch.nn.functional.instance_norm(x))  # the default layout: the same kernel
    fast = norm(x.contiguous(memory_format=torch.channels_last))
    assert fast.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(fast, torch.nn.functional.instance_norm(x), atol=1e-5, rtol=1e-5)


def test_the_default_raft_checkpoint_follows_the_variant():
    from core.flow.build import raft_checkpoint

    assert raft_checkpoint(None) == "checkpoints/raft-things.pth"
    assert raft_checkpoint(None, small=True) == "checkpoints/raft-small.pth"  # score.py --small without --model
    assert raft_checkpoint("mine.pth", small=True) == "mine.pth"
