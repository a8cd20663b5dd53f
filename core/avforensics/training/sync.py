"""Two-phase self-supervised training of the audio-visual synchronisation model on real videos.

Phase 1 (``--epochs1``), contrastive: a batch holds B video windows with their aligned audio windows; every
video window is scored against every audio window of the batch (B x B fusion-transformer pairs, as the
authors' ``network.forward(phase=0)``) and a cross-entropy picks its own audio among the others (InfoNCE).
Pairs of two windows of the same video are left out of the negatives: they may overlap in time.

Phase 2 (``--epochs2``), offset classification: each video window is scored against its 31 audio windows
shifted by -15..+15 frames (the detector's indexing) and a 31-way cross-entropy picks the true offset.

Validation after every epoch: offset accuracy over every step of the held-out videos, computed by the
detector's own code (:mod:`core.avforensics.features`); chance is 1/31. The best epoch by that
accuracy (the last one without ``--val_list``) is exported as ``sync_model.pth`` (official layout).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from core.avforensics.features import SyncFeatureExtractor
from core.avforensics.mel import LogMel
from core.avforensics.scoring import ALIGNED_OFFSET, MAX_OFFSET, NUM_OFFSETS
from core.avforensics.sync_arch import SyncArch, build_sync_model, export_sync_model
from core.avforensics.training.data import SyncWindowDataset, list_videos, plan_faces
from core.errors import InputError
from core.runs import folder as runs
from core.runs.distributed import all_gather_objects, barrier, mean_over_ranks, process_group
from core.runs.precision import autocast
from core.runs.progress import progress_bar
from core.runs.seed import seed_everything

log = logging.getLogger(__name__)

# Settings that change tensor shapes or the meaning of the epochs: a resume must use the same ones.
RESUME_KEYS = ("frame_size", "width_div", "epochs1")


class SyncTrainingModel(nn.Module):
    """The sync model plus log-mels and the pairing of both phases, in one ``forward`` so DDP sees all of it."""

    def __init__(self, sync_model: nn.Module) -> None:
        super().__init__()
        self.sync_model = sync_model
        self.log_mel = LogMel()

    def forward(self, video: torch.Tensor, audio: torch.Tensor, phase: int) -> torch.Tensor:
        """video (B, 5, H, W, 3) uint8, audio (B, W, samples) -> logits (B, B) in phase 1, (B, W) in phase 2."""
        model, fusion = self.sync_model, self.sync_model.transformer
        batch, windows = audio.shape[:2]
        with torch.autocast(device_type=video.device.type, enabled=False):
            log_mel = self.log_mel(audio.flatten(0, 1).float())  # the STFT and the log stay in fp32
        video_tokens = fusion.video_tokens(model.vis_enc(video.permute(0, 4, 1, 2, 3).float()))  # raw 0..255 input
        audio_tokens = fusion.audio_tokens(model.aud_enc(log_mel))
        if phase == 1:
            # Every video window against every clip's aligned audio window.
            paired_video = video_tokens[:, None].expand(-1, batch, -1, -1).flatten(0, 1)
            paired_audio = audio_tokens[None].expand(batch, -1, -1, -1).flatten(0, 1)
            return fusion.sync_logit(paired_video, paired_audio).reshape(batch, batch)
        paired_video = video_tokens[:, None].expand(-1, windows, -1, -1).flatten(0, 1)
        return fusion.sync_logit(paired_video, audio_tokens).reshape(batch, windows)


def offset_hits(logits: np.ndarray, tolerance: int = 0) -> tuple[int, int]:
    """(steps whose arg-max offset is within ``tolerance`` frames of the true one, steps)."""
    error = np.abs(logits.argmax(axis=1) - MAX_OFFSET)
    return int((error <= tolerance).sum()), int(logits.shape[0])


def phase_loss(logits: torch.Tensor, video_index: torch.Tensor, phase: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy and top-1 hits of a batch: the own audio (phase 1) or the true offset (phase 2)."""
    logits = logits.float()
    if phase == 1:
        same_video = video_index[:, None] == video_index[None, :]
        same_video.fill_diagonal_(False)
        logits = logits.masked_fill(same_video, float("-inf"))
        target = torch.arange(logits.shape[0], device=logits.device)
    else:
        target = torch.full((logits.shape[0],), ALIGNED_OFFSET, device=logits.device)
    return F.cross_entropy(logits, target), (logits.argmax(dim=1) == target).sum()


def validate(
    model: nn.Module, paths: list[str], config: dict[str, Any], info, face_plans: dict | None = None
) -> dict[str, float]:
    """Offset accuracy (exact and within 1 frame) over every step of the held-out videos, split across ranks.

    ``face_plans`` caches the videos' face tracking from one epoch to the next."""
    extractor = SyncFeatureExtractor(
        model,
        config["frame_size"],
        config["val_max_len"],
        info.device,
        config["window_batch"],
        face_crop=config.get("face_crop", "never"),
        face_plans=face_plans,
    )
    hits = near = steps = 0
    for path in paths[info.rank :: info.world_size]:
        try:
            logits, _ = extractor.extract_in_eval_mode(extractor.load_clip(path))
        except InputError as exc:
            log.warning("%s: not used for validation (%s)", path, exc)
            continue
        exact, count = offset_hits(logits)
        hits, near, steps = hits + exact, near + offset_hits(logits, 1)[0], steps + count
    totals = [sum(values) for values in zip(*all_gather_objects((hits, near, steps)))]
    if totals[2] == 0:
        return {}
    return {
        "val_offset_acc": totals[0] / totals[2],
        "val_offset_acc_1": totals[1] / totals[2],
        "val_steps": totals[2],
        "chance": 1.0 / NUM_OFFSETS,
    }


def train_sync(config: dict[str, Any]) -> dict[str, Any]:
    """Run (or resume) a sync-model training; returns the last epoch's metrics. See the CLI for ``config``."""
    with process_group(config["device"]) as info:
        return _train(config, info)


def _train(config: dict[str, Any], info) -> dict[str, Any]:
    output_dir = Path(config["output_dir"])
    arch = SyncArch(config["frame_size"], config["width_div"])
    train_paths = list_videos(config["train_list"])
    val_paths = list_videos(config["val_list"]) if config.get("val_list") else []
    total_epochs = config["epochs1"] + config["epochs2"]
    if info.is_primary:
        runs.save_config(output_dir, config)
    barrier()

    seed_everything(config["seed"])  # same initial weights on every rank (DDP also broadcasts them)
    sync_model = build_sync_model(arch)
    model: nn.Module = SyncTrainingModel(sync_model).to(info.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr1"], weight_decay=config["weight_decay"])
    start_epoch, best = 0, {"val_offset_acc": -1.0, "epoch": -1}
    resumed = runs.load_resume(output_dir, config, RESUME_KEYS) if config["resume"] else None
    if resumed is not None:
        model.load_state_dict(resumed["model"])  # strict: the same architecture is guaranteed by RESUME_KEYS
        optimizer.load_state_dict(resumed["optimizer"])
        start_epoch, best = resumed["epoch"] + 1, resumed["best"]
        runs.restore_rng(resumed["rng"])
        log.info("resumed %s at epoch %d of %d", runs.latest_checkpoint(output_dir), start_epoch, total_epochs)
    if info.distributed:
        model = DistributedDataParallel(model, device_ids=[info.device.index] if info.device.type == "cuda" else None)
    metrics = runs.MetricsLog(output_dir, start_epoch) if info.is_primary else None

    face_crop = config.get("face_crop", "never")
    # Faces are tracked once, before the epochs (not at all when a resumed run has nothing left to do).
    face_plans = plan_faces(
        train_paths,
        face_crop if start_epoch < total_epochs else "never",
        config["max_frames"],
        info,
        not config["no_progress"],
    )
    val_plans: dict = {}
    last: dict[str, Any] = {}
    for epoch in range(start_epoch, total_epochs):
        phase = 1 if epoch < config["epochs1"] else 2
        for group in optimizer.param_groups:
            group["lr"] = config["lr1"] if phase == 1 else config["lr2"]
        dataset = SyncWindowDataset(
            train_paths,
            config["frame_size"],
            phase,
            config["windows_per_video"],
            config["max_frames"],
            config["cache"],
            config["seed"],
            face_crop,
            face_plans,
        )
        dataset.set_epoch(epoch)
        # DistributedSampler also for one process: its shuffle depends only on (seed, epoch), so resumes replay it.
        sampler = DistributedSampler(
            dataset, info.world_size, info.rank, shuffle=True, seed=config["seed"], drop_last=True
        )
        sampler.set_epoch(epoch)
        batch_size = config["batch_size1"] if phase == 1 else config["batch_size2"]
        if len(sampler) < batch_size:
            raise InputError(
                f"{len(dataset)} samples per epoch cannot fill one batch of {batch_size} per process; "
                "list more videos, raise windows_per_video or lower the batch size"
            )
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=config["num_workers"],
            drop_last=True,
            pin_memory=info.device.type == "cuda",
        )
        model.train()
        loss_sum, hits, seen, started = 0.0, 0, 0, time.time()
        bar = progress_bar(
            None,
            f"sync epoch {epoch + 1}/{total_epochs} (phase {phase})",
            "batch",
            enabled=info.is_primary and not config["no_progress"],
            iterable=loader,
        )
        for batch in bar:
            video = batch["video"].to(info.device, non_blocking=True)
            audio = batch["audio"].to(info.device, non_blocking=True)
            with autocast(info.device, config["precision"]):
                logits = model(video, audio, phase)
            loss, batch_hits = phase_loss(logits, batch["video_index"].to(info.device), phase)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * video.shape[0]
            hits += int(batch_hits)
            seen += video.shape[0]
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{hits / seen:.3f}")
        seconds = time.time() - started
        row: dict[str, Any] = {
            "epoch": epoch,
            "phase": phase,
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": mean_over_ranks(loss_sum / max(seen, 1), info.device),
            "train_acc": mean_over_ranks(hits / max(seen, 1), info.device),
            "clips_per_s": seen * info.world_size / max(seconds, 1e-9),
            "epoch_seconds": seconds,
        }
        if val_paths:
            row.update(validate(runs.unwrap(model).sync_model, val_paths, config, info, val_plans))
        last = row
        if info.is_primary:
            _save(output_dir, model, optimizer, epoch, best, row, arch, config, metrics)
            log.info(
                "epoch %d (phase %d): %s",
                epoch,
                phase,
                ", ".join(f"{k} {v:.4g}" for k, v in row.items() if isinstance(v, float)),
            )
        barrier()
    if info.is_primary and total_epochs > start_epoch:
        chosen = (
            f"best epoch {best['epoch']} by offset accuracy {best['val_offset_acc']:.3f}" if val_paths else "last epoch"
        )
        log.info("sync model: %s (%s)", output_dir / "sync_model.pth", chosen)
    if metrics is not None:
        metrics.close()
    return last


def _save(
    output_dir: Path,
    model,
    optimizer,
    epoch: int,
    best: dict,
    row: dict,
    arch: SyncArch,
    config: dict,
    metrics: runs.MetricsLog,
) -> None:
    sync_model = runs.unwrap(model).sync_model
    # Best by held-out offset accuracy; without validation every epoch is "best" so the last one is exported.
    accuracy = row.get("val_offset_acc", float("inf"))
    if accuracy >= best["val_offset_acc"]:
        best.update(val_offset_acc=accuracy, epoch=epoch)
        export_sync_model(sync_model, output_dir / "sync_model.pth", arch, config)
    export_sync_model(sync_model, output_dir / "sync_model_last.pth", arch, config)
    runs.save_latest(
        output_dir, {"model": runs.unwrap(model).state_dict(), "optimizer": optimizer.state_dict()}, epoch, best, config
    )
    metrics.add(row)
