"""The anomaly models, trained on real videos only: PCA map and the two autoregressive models of detect.py.

1. Extraction: for every training and validation video, the trained sync model's (steps, 31) logits and
   (steps, D) offset-0 audio-visual features, by the detector's own code (same decoding, same steps), so
   the models learn exactly the sequences detection produces for real videos. Cached in
   ``extract/<split>.npz`` (per rank under torchrun); a resumed run reuses the cache.
2. PCA: ``StandardScaler`` + ``PCA(31)`` fitted on the training features, written as ``pca.npz``
   (:func:`core.avforensics.pca.load_pca` reads it; the scaling is then applied by :class:`PcaMap`, the
   same code detection uses).
3. Autoregressive models (:class:`core.avforensics.regressive.AutoregressiveModel`, the reference
   architecture, 49 positions): sequences padded/masked to ``max_len`` as in
   :func:`core.avforensics.scoring.sequence_scores`; the distribution model predicts step t+1's softmax
   (loss: KL), the feature model step t+1's L2-normalised PCA feature (loss: squared error summed over
   the 31 components); both averaged over the real (unpadded) predicted steps.

Validation (held-out real videos): per predicted step, the distribution model's negative log-likelihood
(cross-entropy -sum p log q = KL + entropy of the target) and KL, and the feature model's squared error and
unit-variance Gaussian NLL (0.5 * error + 31/2 * log 2pi). Each model's best epoch by its held-out loss is
exported as a bare state dict (the official layout).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from core import atomic
from core.avforensics.features import SyncFeatureExtractor
from core.avforensics.pca import PcaMap, load_pca
from core.avforensics.regressive import AutoregressiveModel
from core.avforensics.scoring import NUM_OFFSETS, pad_to_length
from core.avforensics.sync_arch import load_sync_model
from core.avforensics.training.data import list_videos
from core.checkpoints import file_sha256, require_file
from core.errors import InputError
from core.runs import folder as runs
from core.runs.distributed import barrier, mean_over_ranks, process_group
from core.runs.precision import autocast
from core.runs.progress import progress_bar
from core.runs.seed import seed_everything

log = logging.getLogger(__name__)

RESUME_KEYS = ("sync_model", "max_len", "extract_len", "train_list")
PCA_COMPONENTS = 31
MODEL_FILES = {"dist": "dist_regressive_model.pth", "feat": "avfeature_regressive_model.pth"}


def extract_split(split: str, extract_len: int, config: dict, info) -> list[dict]:
    """Logits and features of this rank's share of the ``split`` list's videos (``train`` or ``val``), cached in the
    run's ``extract`` folder, then everyone's from all ranks' caches."""
    paths, sync_path = list_videos(config[f"{split}_list"]), config["sync_model"]
    cache = Path(config["output_dir"]) / "extract" / f"{split}.npz"
    require_file(sync_path, "audio-visual sync model")
    shard = cache.with_name(f"{cache.stem}.rank{info.rank}of{info.world_size}.npz")
    face_crop = config.get("face_crop", "never")
    # (the whole-frame key has no face part, as before face crops existed, so earlier caches stay valid)
    options = f"{extract_len}|{len(paths)}" + (f"|faces {face_crop}" if face_crop != "never" else "")
    source = f"sha256:{file_sha256(sync_path)}|{options}"  # the sync model as every resumable record names it
    # Caches written before named the sync model by path and modification time: still the same model.
    earlier = f"{Path(sync_path).resolve()}|{Path(sync_path).stat().st_mtime_ns}|{options}"
    if shard.is_file():
        with np.load(shard) as arrays:
            if str(arrays["source"]) not in (source, earlier):  # another sync model or length: extract again
                shard.unlink()
    if not shard.is_file():
        model, arch = load_sync_model(sync_path)
        extractor = SyncFeatureExtractor(
            model, arch.frame_size, extract_len, info.device, config["window_batch"], face_crop=face_crop
        )
        logits, features, lengths, kept = [], [], [], []
        mine = paths[info.rank :: info.world_size]
        enabled = info.is_primary and not config["no_progress"]
        for path in progress_bar(None, f"extracting {cache.stem}", "video", True, enabled, iterable=mine):
            try:
                video_logits, video_features = extractor.extract_in_eval_mode(extractor.load_clip(path))
            except InputError as exc:
                log.warning("%s: not used (%s)", path, exc)
                continue
            if video_logits.shape[0] < 2:
                log.warning("%s: not used (one step only: nothing to predict)", path)
                continue
            (
                logits.append(video_logits),
                features.append(video_features),
                lengths.append(len(video_logits)),
                kept.append(path),
            )
        shard.parent.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_open(shard, "wb") as handle:  # a kill while saving leaves no broken cache
            np.savez(
                handle,
                logits=np.concatenate(logits) if logits else np.zeros((0, NUM_OFFSETS)),
                features=np.concatenate(features) if features else np.zeros((0, 1), np.float32),
                lengths=np.array(lengths, dtype=np.int64),
                paths=np.array(kept, dtype=str),
                source=np.array(source),
            )
    barrier()
    videos = []
    for rank in range(info.world_size):
        with np.load(cache.with_name(f"{cache.stem}.rank{rank}of{info.world_size}.npz")) as arrays:
            bounds = np.concatenate(([0], np.cumsum(arrays["lengths"])))
            for index, path in enumerate(arrays["paths"]):
                span = slice(bounds[index], bounds[index + 1])
                videos.append(
                    {"path": str(path), "logits": arrays["logits"][span], "features": arrays["features"][span]}
                )
    return videos


def fit_pca(features: np.ndarray, path: Path) -> PcaMap:
    """StandardScaler + PCA(31) on (N, D) training features, saved as ``.npz`` and read back as detection will."""
    if features.shape[0] <= PCA_COMPONENTS or features.shape[1] < PCA_COMPONENTS:
        raise InputError(
            f"the PCA needs more than {PCA_COMPONENTS} training steps of >= {PCA_COMPONENTS}-d features; "
            f"got {features.shape[0]} of {features.shape[1]}-d (list more or longer videos)"
        )
    scaler = StandardScaler().fit(features)
    pca = PCA(PCA_COMPONENTS, svd_solver="full").fit(scaler.transform(features))
    PcaMap(
        scaler.mean_.astype(np.float64),
        scaler.scale_.astype(np.float64),
        pca.mean_.astype(np.float64),
        pca.components_.astype(np.float64),
        pca.explained_variance_.astype(np.float64),
        whiten=False,
    ).save_npz(path)
    return load_pca(path)


class SequenceDataset(Dataset):
    """One video's sequences, padded and masked to ``max_len`` like detection; longer ones cropped at random
    (at the start with ``random_crop`` off: detection always scores the first ``max_len`` steps)."""

    def __init__(self, videos: list[dict], pca: PcaMap, max_len: int, random_crop: bool, seed: int = 0) -> None:
        self.items = [(v["logits"], pca.transform(v["features"])) for v in videos]
        self.max_len, self.random_crop, self.seed, self.epoch = max_len, random_crop, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        logits, features = self.items[index]
        start = 0
        if self.random_crop and logits.shape[0] > self.max_len:
            start = int(
                np.random.default_rng([self.seed, self.epoch, index]).integers(logits.shape[0] - self.max_len + 1)
            )
        sequence, mask = pad_to_length(torch.from_numpy(logits[start:]), self.max_len)
        features, _ = pad_to_length(torch.from_numpy(features[start:]), self.max_len)
        # Detection normalises each step's PCA feature in float64 before feeding float32 (scoring.sequence_scores).
        return {"logits": sequence, "features": F.normalize(features, p=2.0, dim=1), "mask": mask}


def sequence_losses(dist_model: nn.Module, feat_model: nn.Module, batch: dict, device: torch.device, precision: str):
    """Per-sequence sums over real predicted steps of KL, cross-entropy, squared error; and their step counts."""
    logits, features = batch["logits"].to(device), batch["features"].to(device)
    mask = batch["mask"].to(device)
    input_mask = mask[:, :-1]
    valid = 1.0 - mask[:, 1:]  # prediction t is scored when step t+1 is a real step
    with autocast(device, precision):
        predicted = dist_model(logits[:, :-1].float(), input_mask)
        predicted_features = feat_model(features[:, :-1].float(), input_mask)
    target = torch.softmax(logits[:, 1:].float(), dim=2)
    log_q = torch.log_softmax(predicted.float(), dim=2)
    kl = F.kl_div(log_q, target, reduction="none").sum(dim=2)
    cross_entropy = -(target * log_q).sum(dim=2)
    squared = (predicted_features.float() - features[:, 1:].float()).pow(2).sum(dim=2)
    return (kl * valid).sum(), (cross_entropy * valid).sum(), (squared * valid).sum(), valid.sum()


def train_anomaly(config: dict[str, Any]) -> dict[str, Any]:
    """Extract, fit the PCA, train both autoregressive models (or resume); returns the last epoch's metrics."""
    with process_group(config["device"]) as info:
        return _train(config, info)


def _loader(dataset: Dataset, config: dict, info, shuffle: bool, epoch: int) -> DataLoader:
    sampler = DistributedSampler(dataset, info.world_size, info.rank, shuffle=shuffle, seed=config["seed"])
    sampler.set_epoch(epoch)
    return DataLoader(dataset, batch_size=config["batch_size"], sampler=sampler, num_workers=0)  # all in memory


def _train(config: dict[str, Any], info) -> dict[str, Any]:
    output_dir = Path(config["output_dir"])
    if not 2 <= config["max_len"] <= 50:
        raise InputError(f"max_len {config['max_len']}: the reference models have 49 positions, so 2..50")
    config["extract_len"] = config.get("extract_len") or config["max_len"]
    if info.is_primary:
        runs.save_config(output_dir, config)
    train = extract_split("train", config["extract_len"], config, info)
    # Validation sequences are what detection will see: the first max_len steps.
    val = extract_split("val", config["max_len"], config, info) if config.get("val_list") else []
    if not train:
        raise InputError(f"no usable training video in {config['train_list']}")
    if info.is_primary:
        fit_pca(np.concatenate([v["features"] for v in train]), output_dir / "pca.npz")
    barrier()
    pca = load_pca(output_dir / "pca.npz")
    train_set = SequenceDataset(train, pca, config["max_len"], random_crop=True, seed=config["seed"])
    val_set = SequenceDataset(val, pca, config["max_len"], random_crop=False) if val else None
    log.info(
        "anomaly models: %d training and %d validation sequences, %d training steps",
        len(train),
        len(val),
        sum(len(v["logits"]) for v in train),
    )

    seed_everything(config["seed"])
    models = {name: AutoregressiveModel().to(info.device) for name in MODEL_FILES}
    optimizers = {
        name: torch.optim.AdamW(m.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
        for name, m in models.items()
    }
    start_epoch, best = 0, {"dist": math.inf, "feat": math.inf}
    resumed = runs.load_resume(output_dir, config, RESUME_KEYS) if config["resume"] else None
    if resumed is not None:
        for name in MODEL_FILES:
            models[name].load_state_dict(resumed["models"][name])
            optimizers[name].load_state_dict(resumed["optimizers"][name])
        start_epoch, best = resumed["epoch"] + 1, resumed["best"]
        runs.restore_rng(resumed["rng"])
        log.info("resumed %s at epoch %d of %d", runs.latest_checkpoint(output_dir), start_epoch, config["epochs"])
    wrapped = {
        name: DistributedDataParallel(m, device_ids=[info.device.index] if info.device.type == "cuda" else None)
        if info.distributed
        else m
        for name, m in models.items()
    }
    metrics = runs.MetricsLog(output_dir, start_epoch) if info.is_primary else None

    row: dict[str, Any] = {}
    for epoch in range(start_epoch, config["epochs"]):
        train_set.set_epoch(epoch)
        started, totals = time.time(), torch.zeros(4, dtype=torch.float64)
        for model in wrapped.values():
            model.train()
        bar = progress_bar(
            None,
            f"anomaly epoch {epoch + 1}/{config['epochs']}",
            "batch",
            enabled=info.is_primary and not config["no_progress"],
            iterable=_loader(train_set, config, info, True, epoch),
        )
        for batch in bar:
            kl, ce, sq, count = sequence_losses(
                wrapped["dist"], wrapped["feat"], batch, info.device, config["precision"]
            )
            # Mean over the batch's real steps: every predicted step weighs the same, whatever its video's length.
            steps = count.clamp(min=1)
            for optimizer in optimizers.values():
                optimizer.zero_grad(set_to_none=True)
            (kl / steps + sq / steps).backward()  # the two models share no parameter: one backward trains both
            for optimizer in optimizers.values():
                optimizer.step()
            totals += torch.stack([kl.detach(), ce.detach(), sq.detach(), count]).double().cpu()
            bar.set_postfix(kl=f"{(kl / steps).item():.4f}", mse=f"{(sq / steps).item():.4f}")
        row = {
            "epoch": epoch,
            "train_kl": _ratio(totals[0], totals[3], info),
            "train_mse": _ratio(totals[2], totals[3], info),
            "sequences_per_s": len(train_set) / max(time.time() - started, 1e-9),
        }
        if val_set is not None:
            row.update(evaluate(models, val_set, config, info))
        if info.is_primary:
            _save(output_dir, models, optimizers, epoch, best, row, config, metrics)
            log.info("epoch %d: %s", epoch, ", ".join(f"{k} {v:.4g}" for k, v in row.items() if isinstance(v, float)))
        barrier()
    if metrics is not None:
        metrics.close()
    return row


def _ratio(total: torch.Tensor, count: torch.Tensor, info) -> float:
    """Sum / count over all ranks (each rank holds its own sums)."""
    return mean_over_ranks(float(total), info.device) / max(mean_over_ranks(float(count), info.device), 1e-9)


@torch.no_grad()
def evaluate(models: dict[str, nn.Module], dataset: Dataset, config: dict, info) -> dict[str, float]:
    """Held-out per-step KL, NLL and squared error of real sequences (lower: the models fit real videos better)."""
    for model in models.values():
        model.eval()
    totals = torch.zeros(4, dtype=torch.float64)
    for batch in _loader(dataset, config, info, False, 0):
        totals += (
            torch.stack(sequence_losses(models["dist"], models["feat"], batch, info.device, "fp32")).double().cpu()
        )
    kl, ce, sq = (_ratio(totals[i], totals[3], info) for i in range(3))
    return {
        "val_kl": kl,
        "val_nll": ce,
        "val_mse": sq,
        "val_feature_nll": 0.5 * sq + 0.5 * PCA_COMPONENTS * math.log(2 * math.pi),
    }


def _save(
    output_dir: Path,
    models: dict,
    optimizers: dict,
    epoch: int,
    best: dict,
    row: dict,
    config: dict,
    metrics: runs.MetricsLog,
) -> None:
    # Each model's best epoch by its own held-out loss; without validation, the last epoch.
    for name, key in (("dist", "val_nll"), ("feat", "val_mse")):
        loss = row.get(key, -math.inf)
        if loss <= best[name]:
            best[name] = loss
            state = {k: v.detach().cpu().clone() for k, v in models[name].state_dict().items()}
            atomic.save_checkpoint(state, output_dir / MODEL_FILES[name])  # bare state dict: the official layout
    state = {
        "models": {n: m.state_dict() for n, m in models.items()},
        "optimizers": {n: o.state_dict() for n, o in optimizers.items()},
    }
    runs.save_latest(output_dir, state, epoch, best, config)
    metrics.add(row)
