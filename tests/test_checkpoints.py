"""The one checkpoint loader: official layouts load, anything else is named."""

from __future__ import annotations

import pytest
import torch

from core.aigvdet import build_classifier, load_classifier
from core.checkpoints import extract_state_dict, require_file
from core.errors import CheckpointError


@pytest.fixture(scope="module")
def resnet18_state():
    torch.manual_seed(0)
    return build_classifier("resnet18").state_dict()


@pytest.mark.parametrize(
    "layout",
    [
        lambda s: s,
        lambda s: {"model": s, "optimizer": {}, "total_steps": 10},
        lambda s: {f"module.{k}": v for k, v in s.items()},
        lambda s: {"model": {f"module.{k}": v for k, v in s.items()}},
    ],
    ids=["bare", "trainer", "module-prefix", "trainer-module-prefix"],
)
def test_classifier_layouts_load(tmp_path, resnet18_state, layout):
    torch.save(layout(resnet18_state), tmp_path / "original.pth")
    model = load_classifier(tmp_path / "original.pth", "resnet18")
    assert not model.training
    for key, value in resnet18_state.items():
        assert torch.equal(model.state_dict()[key], value)


def test_wrong_architecture_is_explained(tmp_path, resnet18_state):
    torch.save({"model": resnet18_state}, tmp_path / "optical.pth")
    with pytest.raises(CheckpointError, match="resnet18 checkpoint, but the architecture asked for is resnet50"):
        load_classifier(tmp_path / "optical.pth", "resnet50")


def test_imagenet_head_is_refused(tmp_path):
    torch.save(build_classifier("resnet18").state_dict() | {"fc.weight": torch.zeros(1000, 512)}, tmp_path / "x.pth")
    with pytest.raises(CheckpointError, match="1000-way head"):
        load_classifier(tmp_path / "x.pth", "resnet18")


def test_mismatched_keys_are_all_named(tmp_path, resnet18_state):
    state = dict(resnet18_state)
    del state["layer1.0.conv1.weight"]
    state["layer9.weight"] = torch.zeros(1)
    state["fc.bias"] = torch.zeros(2)
    torch.save(state, tmp_path / "x.pth")
    with pytest.raises(CheckpointError) as info:
        load_classifier(tmp_path / "x.pth", "resnet18")
    message = str(info.value)
    assert "missing: layer1.0.conv1.weight" in message
    assert "unexpected: layer9.weight" in message
    assert "fc.bias (2,) vs (1,)" in message


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(CheckpointError, match=r"optical\.pth.*multimediaFor/AIGVDet"):
        require_file(tmp_path / "optical.pth", "optical-flow-branch checkpoint")
    (tmp_path / "original.pth").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_classifier(tmp_path / "original.pth")


def test_state_dict_must_hold_tensors():
    with pytest.raises(CheckpointError, match="no tensors"):
        extract_state_dict({"model": {"epoch": 3}})
