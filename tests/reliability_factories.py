"""Small, fast inputs for the rerun and bad-input tests: a tiny sync model (32 px, widths / 8) and its companions."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from core.avforensics.sync_arch import SyncArch, export_sync_model
from core.avforensics.sync_transformer import SyncModel
from tests.avforensics_factories import checkpoint_flags, random_pca, random_regressive_model, randomize_batchnorm


def small_sync_model(seed: int = 3) -> SyncModel:
    """The official architecture at 32x32 frames with every width divided by 8: runs in well under a second."""
    torch.manual_seed(seed)
    model = SyncModel(feature_map_size=2, width_div=8)
    with torch.no_grad():
        randomize_batchnorm(model, torch.Generator().manual_seed(seed))
        model.vis_enc.conv1.weight.mul_(1 / 128)  # raw 0..255 pixels
        model.aud_enc.conv1.weight.mul_(1 / 8)
    return model.eval()


def av_checkpoint_paths(folder: Path) -> dict[str, Path]:
    return {
        "sync": folder / "sync_model.pth",
        "dist": folder / "dist.pth",
        "feat": folder / "feat.pth",
        "pca": folder / "pca.npz",
    }


def av_checkpoints(folder: Path) -> dict[str, Path]:
    """sync (with its sidecar), the two autoregressive models and a PCA for 128-d features, saved in ``folder``."""
    paths = av_checkpoint_paths(folder)
    export_sync_model(small_sync_model(), paths["sync"], SyncArch(32, 8), {})
    torch.save(random_regressive_model(4).state_dict(), paths["dist"])
    torch.save(random_regressive_model(5).state_dict(), paths["feat"])
    random_pca(6, dim=128).save_npz(paths["pca"])
    return paths


def av_checkpoint_args(paths: dict[str, Path]) -> list[str]:
    return checkpoint_flags(paths["sync"], paths["dist"], paths["feat"], paths["pca"])


@contextlib.contextmanager
def one_torch_thread():
    """Tiny models run fastest on one thread, and far slower with two on a loaded 2-core machine (OpenMP waits)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def truncated_copy(source: Path, target: Path, keep: float = 0.5) -> Path:
    """``source`` remuxed with its index first (mp4 ``faststart``), then cut after ``keep`` of its bytes: every
    frame is still declared, the data of the later ones is gone (what an interrupted download leaves)."""
    import av

    whole = target.with_name(target.stem + ".whole" + target.suffix)
    with av.open(str(source)) as src, av.open(str(whole), "w", options={"movflags": "faststart"}) as out:
        streams = {stream.index: out.add_stream_from_template(stream) for stream in src.streams}
        for packet in src.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    data = whole.read_bytes()
    whole.unlink()
    target.write_bytes(data[: int(len(data) * keep)])
    return target
