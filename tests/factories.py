"""Builders of the small inputs the tests need: synthetic videos and random weights in official layouts."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from core.aigvdet import build_classifier, to_classifier_input
from core.flow import RAFT, flow_to_classifier_rgb
from core.flow.extractor import FlowExtractor, frames_to_tensor


def moving_texture_frames(count: int, height: int, width: int, seed: int = 0, step: int = 2) -> list[np.ndarray]:
    """RGB uint8 frames of a smooth random texture panning diagonally: real optical flow to find."""
    rng = np.random.default_rng(seed)
    big = cv2.resize(
        rng.integers(0, 256, (height // 8 + 8, width // 8 + 8, 3), dtype=np.uint8),
        (width + step * count + 16, height + step * count + 16),
        interpolation=cv2.INTER_CUBIC,
    )
    return [np.ascontiguousarray(big[i * step : i * step + height, i * step : i * step + width]) for i in range(count)]


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    """Write RGB frames as an MJPG .avi (decodable by OpenCV and PyAV everywhere, no codec licence issues)."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), f"cannot open a video writer for {path}"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def randomize_batchnorm(model: nn.Module, generator: torch.Generator) -> None:
    """Give every BatchNorm non-trivial running statistics and affine parameters."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) * 0.5 + 0.75)
            module.weight.data.copy_(torch.rand(n, generator=generator) * 0.5 + 0.5)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)


def calibration_images(seed: int) -> torch.Tensor:
    """uint8 (N, 3, H, W) mix of what AIGVDet's classifiers see: small and large frames, flow pictures."""
    small = moving_texture_frames(2, 180, 250, seed=seed)
    large = moving_texture_frames(2, 464, 500, seed=seed + 1)
    rng = np.random.default_rng(seed)
    flows = []
    for _ in range(3):
        field = cv2.resize(rng.normal(0, 3, (6, 8, 2)).astype(np.float32), (256, 192), interpolation=cv2.INTER_CUBIC)
        flows.append(flow_to_classifier_rgb(field))
    batch = [
        to_classifier_input(torch.from_numpy(np.stack(group)).permute(0, 3, 1, 2), normalize=False)
        for group in (small, large, flows)
    ]
    return (torch.cat(batch) * 255).round().to(torch.uint8)


@torch.no_grad()
def random_classifier(seed: int, arch: str = "resnet50") -> nn.Module:
    """A ResNet with random weights, BatchNorm statistics gathered on random textures (so activations
    keep depending on the input) and a head scaled so probabilities spread over sigmoid's sensitive range."""
    torch.manual_seed(seed)
    model = build_classifier(arch)
    generator = torch.Generator().manual_seed(seed)
    calibration = to_classifier_input(calibration_images(seed))
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration batch
    model.train()(calibration)
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = 0.1
            module.weight.data.uniform_(0.8, 1.2, generator=generator)
            module.bias.data.normal_(0.0, 0.05, generator=generator)
    features = {}
    hook = model.avgpool.register_forward_hook(lambda _m, _i, out: features.__setitem__("x", out.flatten(1)))
    model(calibration)
    hook.remove()
    pooled = features["x"]
    direction = torch.randn(pooled.shape[1], generator=generator)
    logits = (pooled - pooled.mean(0)) @ direction
    model.fc.weight.data.copy_(direction[None] * (1.5 / logits.std().clamp_min(1e-12)))
    model.fc.bias.data.copy_(-(pooled.mean(0) @ model.fc.weight.data[0]))
    return model


def save_classifier(path: Path, model: nn.Module, nested: bool = True) -> Path:
    """Save as the official AIGVDet trainer does ({"model", "optimizer", "total_steps"}) or bare."""
    state = model.state_dict()
    torch.save({"model": state, "optimizer": {}, "total_steps": 0} if nested else state, path)
    return path


@torch.no_grad()
def random_raft(seed: int, small: bool = False) -> RAFT:
    torch.manual_seed(seed)
    model = RAFT(small=small)
    randomize_batchnorm(model, torch.Generator().manual_seed(seed))
    # Shrink the update's flow head so 20 random iterations move coordinates by a few pixels, not hundreds.
    model.update_block.flow_head.conv2.weight.data.mul_(0.1)
    return model.eval()


def stream_flows(extractor: FlowExtractor, frames: list[np.ndarray]) -> list[torch.Tensor]:
    """One padded flow (2, H', W') per consecutive pair, the frames pushed in chunks of the extractor's batch size
    (pair borders fall inside and across chunks, as in the pipelines)."""
    extractor.reset()
    flows = []
    for start in range(0, len(frames), extractor.batch_size):
        chunk = frames[start : start + extractor.batch_size]
        flows += list(extractor.push(frames_to_tensor(chunk, extractor.device)))
    return flows


def save_raft(path: Path, model: RAFT, module_prefix: bool = True) -> Path:
    """Save as the official RAFT checkpoints are: a bare state dict with DataParallel's ``module.`` prefix."""
    state = model.state_dict()
    if module_prefix:
        state = {f"module.{k}": v for k, v in state.items()}
    torch.save(state, path)
    return path


def write_vfr_video(path: Path, frames: list[np.ndarray], times_s: list[float], gop: int = 3) -> Path:
    """Write RGB frames with PyAV at the given presentation times (millisecond time base): a variable frame rate
    MPEG-4 Part 2 .mp4 with a keyframe every ``gop`` frames (so seeking has keyframes to land on)."""
    import fractions

    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = fractions.Fraction(1, 1000)
        stream.codec_context.gop_size = gop
        stream.options = {"qscale": "2"}
        for frame, time_s in zip(frames, times_s):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts, picture.time_base = round(time_s * 1000), fractions.Fraction(1, 1000)
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
    return path


def demo_argv(weights: Path, video: Path, *extra: str, raft_iters: int | None = 4, crop_size: int = 64) -> list[str]:
    """demo.py's command line on the CPU with the test checkpoints in ``weights`` (resnet18 classifiers): RAFT
    with ``raft_iters`` iterations, or with None OpenCV's weight-free DIS flow on ``crop_size``-pixel crops."""
    argv = ["--use_cpu", "--path", str(video), "-mop", str(weights / "optical.pth")]
    argv += ["-mor", str(weights / "original.pth"), "--arch", "resnet18"]
    if raft_iters is None:
        argv += ["--crop_size", str(crop_size), "--flow_method", "dis"]
    else:
        argv += ["--model", str(weights / "raft-things.pth"), "--iters", str(raft_iters)]
    return argv + list(extra)


def load_test_script():
    """The repository's test.py, loaded by path: ``import test`` would find the standard library's package."""
    spec = importlib.util.spec_from_file_location(
        "aigvdet_test_script", Path(__file__).resolve().parents[1] / "test.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def eval_script_argv(frames_root: Path, weights: Path, results: Path, *extra: str) -> list[str]:
    """test.py's command line on the CPU, no workers: the rgb/ and flow/ trees under ``frames_root``, the test
    checkpoints in ``weights`` (resnet18), videos.csv and frames.csv written into ``results``."""
    argv = ["-for", str(frames_root / "rgb"), "-fop", str(frames_root / "flow"), "-mor", str(weights / "original.pth")]
    argv += ["-mop", str(weights / "optical.pth"), "--arch", "resnet18", "--use_cpu", "--num_workers", "0"]
    return argv + ["-e", str(results / "videos.csv"), "-ef", str(results / "frames.csv"), *extra]
