"""RAFT's memory: the on-the-fly correlation equals the all-pairs one, auto picks it, failures are explained."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import demo
from core.cli import run_cli
from core.errors import ToolkitError
from core.flow import FlowExtractor, corr_budget, corr_onthefly, load_raft
from core.flow import build as flow_build
from core.flow.corr import CorrBlock, coords_grid
from core.flow.corr_budget import FlowMemoryError, out_of_memory_as_error, plan_flow_memory
from core.flow.corr_onthefly import OnTheFlyCorrBlock
from tests import factories


def lookup_inputs(batch: int, dim: int, height: int, width: int, spread: float, seed: int):
    generator = torch.Generator().manual_seed(seed)
    fmap1 = torch.randn(batch, dim, height, width, generator=generator)
    fmap2 = torch.randn(batch, dim, height, width, generator=generator)
    coords = coords_grid(batch, height, width, torch.device("cpu"))
    coords = coords + spread * torch.randn(coords.shape, generator=generator)
    # Windows partly and wholly outside the map, and a centre on exact integers.
    coords[0, :, 0, 0] = torch.tensor([-30.0, 5.0])
    coords[0, :, 1, 1] = torch.tensor([3.0, height + 40.0])
    coords[0, :, 2, 2] = torch.tensor([2.0, 3.0])
    coords[-1, :, -1, -1] = torch.tensor([width - 0.5, -2.25])
    return fmap1, fmap2, coords


@pytest.mark.parametrize("tiled", [True, False])
@pytest.mark.parametrize(
    ("batch", "dim", "height", "width", "levels", "radius", "spread"),
    [
        (2, 256, 13, 11, 3, 4, 3.0),  # odd sides, power-of-two scale (folded into the features)
        (1, 128, 17, 23, 4, 3, 1.5),  # RAFT-small's radius, a scale that divides the products
        (1, 64, 21, 19, 2, 4, 12.0),  # large displacements: windows of a tile far apart
    ],
)
def test_on_the_fly_lookup_equals_the_all_pairs_one(tiled, batch, dim, height, width, levels, radius, spread):
    fmap1, fmap2, coords = lookup_inputs(batch, dim, height, width, spread, seed=height)
    expected = CorrBlock(fmap1, fmap2, num_levels=levels, radius=radius)(coords)
    block = OnTheFlyCorrBlock(fmap1, fmap2, num_levels=levels, radius=radius, tiled=tiled, chunk_bytes=200_000)
    ours = block(coords)
    assert ours.shape == expected.shape == (batch, levels * (2 * radius + 1) ** 2, height, width)
    assert expected.abs().max() > 1  # non-trivial features
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_tiles_whose_windows_scatter_fall_back_to_gathering(monkeypatch):
    fmap1, fmap2, coords = lookup_inputs(2, 256, 13, 11, 3.0, seed=5)
    expected = CorrBlock(fmap1, fmap2, num_levels=3, radius=4)(coords)
    monkeypatch.setattr(corr_onthefly, "MAX_BLOCK_WINDOWS", 0)  # every tile takes the fallback
    torch.testing.assert_close(
        OnTheFlyCorrBlock(fmap1, fmap2, 3, 4, tiled=True)(coords), expected, atol=1e-5, rtol=1e-5
    )


def test_diverged_coordinates_read_zeros_without_crashing():
    fmap1, fmap2, coords = lookup_inputs(1, 64, 16, 16, 1.0, seed=1)
    coords[0, :, 3, 3] = float("nan")
    coords[0, :, 4, 4] = torch.tensor([1e9, -1e9])
    out = OnTheFlyCorrBlock(fmap1, fmap2, 2, 4)(coords)
    assert torch.isfinite(out).all()
    assert (out[0, :, 4, 4] == 0).all()


@pytest.mark.parametrize("small", [False, True])
def test_raft_flow_is_the_same_in_both_modes(small):
    model = factories.random_raft(21, small=small)
    frames = factories.moving_texture_frames(2, 128, 136, seed=8, step=3)
    images = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()
    flows = {}
    with torch.inference_mode():
        for mode in ("all_pairs", "on_the_fly"):
            model.corr_mode = mode
            flows[mode] = model(images[:1], images[1:], iters=6)[1]
    assert flows["all_pairs"].abs().max() > 0.1
    torch.testing.assert_close(flows["on_the_fly"], flows["all_pairs"], atol=1e-4, rtol=0)


def test_auto_picks_on_the_fly_when_the_budget_is_tiny(monkeypatch):
    built = []
    original = corr_onthefly.OnTheFlyCorrBlock
    monkeypatch.setattr("core.flow.raft.OnTheFlyCorrBlock", lambda *a, **k: built.append(1) or original(*a, **k))
    frames = factories.moving_texture_frames(3, 128, 136, seed=9)
    default = factories.stream_flows(FlowExtractor(factories.random_raft(22), iters=3), frames)
    assert not built  # 17x16 features: far below the default budget, all-pairs
    tiny = factories.random_raft(22)
    tiny.corr_budget_bytes = 1024
    extractor = FlowExtractor(tiny, iters=3)
    flows = factories.stream_flows(extractor, frames)
    assert built and extractor.plan(128, 136).mode == "on_the_fly"
    for ours, reference in zip(flows, default):
        torch.testing.assert_close(ours, reference, atol=1e-4, rtol=0)


def test_the_default_budget_keeps_720p_all_pairs_and_sends_4k_on_the_fly():
    device = torch.device("cpu")
    assert corr_budget.all_pairs_bytes(1, 270, 480) > 67_184_640_000  # the reported 4K allocation, plus pyramid
    assert plan_flow_memory(720, 1280, device, budget_bytes=None).mode == "all_pairs"
    assert corr_budget.resolve_corr_mode("auto", 1, 270, 480, 4, corr_budget.DEFAULT_CPU_BUDGET_BYTES) == "on_the_fly"
    assert corr_budget.all_pairs_batch_limit(90, 160, 4, corr_budget.DEFAULT_CPU_BUDGET_BYTES) == 3


def test_what_cannot_fit_is_refused_before_any_work(monkeypatch):
    monkeypatch.setattr(corr_budget, "available_memory_bytes", lambda device: 16 * 2**30)
    with pytest.raises(FlowMemoryError, match=r"3840x2160 frames.*all-pairs.*on-the-fly correlation would need"):
        plan_flow_memory(2160, 3840, "cpu", mode="all_pairs")
    assert plan_flow_memory(2160, 3840, "cpu").mode == "on_the_fly"  # auto fits
    model = factories.random_raft(23)
    calls = []
    model.fnet.register_forward_hook(lambda *_: calls.append(1))
    monkeypatch.setattr(corr_budget, "available_memory_bytes", lambda device: 1000)
    with pytest.raises(FlowMemoryError, match="136x128 frames"):
        FlowExtractor(model, iters=2).push(torch.zeros(2, 3, 128, 136))
    assert not calls


def test_allocation_failures_become_one_clear_error():
    message = (
        "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: "
        "you tried to allocate 67184640000 bytes."
    )
    expected = r"out of memory in RAFT on 3840x2160.*tried to allocate.*; use less"
    with pytest.raises(FlowMemoryError, match=expected), out_of_memory_as_error("RAFT on 3840x2160", hint="use less"):
        raise RuntimeError(message)
    with pytest.raises(RuntimeError, match="shape mismatch"), out_of_memory_as_error("anything"):
        raise RuntimeError("shape mismatch")
    with pytest.raises(FlowMemoryError, match="needs 9 GiB; try the flag"), out_of_memory_as_error("x", "try the flag"):
        raise FlowMemoryError("needs 9 GiB")


@pytest.mark.parametrize(
    ("extra", "mode", "budget"),
    [
        ([], "auto", None),
        (["--corr_mode", "on_the_fly"], "on_the_fly", None),
        (["--alternate_corr"], "on_the_fly", None),
        (["--corr_budget_gb", "0.5"], "auto", 2**29),
    ],
)
def test_demo_passes_the_correlation_flags_down(weights_dir, small_video, monkeypatch, extra, mode, budget):
    seen = {}

    def spy(path, **kwargs):
        seen.update(kwargs)
        raise ToolkitError("stop here")

    monkeypatch.setattr(flow_build, "load_raft", spy)  # demo.py builds its flow through core.flow.build
    args = ["--use_cpu", "--path", str(small_video), "--model", str(weights_dir / "raft-things.pth"), *extra]
    assert run_cli(demo.main, demo.get_args_parser(), args) == 1
    assert (seen["corr_mode"], seen["corr_budget_bytes"]) == (mode, budget)


def test_demo_names_the_frame_size_and_the_flag_when_memory_runs_out(weights_dir, small_video, monkeypatch, capsys):
    def exhausted(self, frames):
        with out_of_memory_as_error("RAFT on 152x136 frames"):
            raise RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 67184640000 bytes.")

    monkeypatch.setattr(FlowExtractor, "push", exhausted)
    assert run_cli(demo.main, demo.get_args_parser(), factories.demo_argv(weights_dir, small_video)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "152x136" in err[0] and "--corr_mode on_the_fly" in err[0]


def test_load_raft_keeps_the_correlation_settings(weights_dir):
    model = load_raft(weights_dir / "raft-things.pth", corr_mode="on_the_fly", corr_budget_bytes=123)
    assert (model.corr_mode, model.corr_budget_bytes) == ("on_the_fly", 123)
    with pytest.raises(ValueError, match="unknown correlation mode"):
        load_raft(weights_dir / "raft-things.pth", corr_mode="sometimes")
