"""The model, optimiser and checkpoints of AIGVDet training (the reference's ``Trainer``).

Checkpoints keep the reference's layout ``{"model", "optimizer", "total_steps"}`` (test.py, demo.py and
``core.aigvdet.load_classifier`` read them) and add what an exact resume needs: ``epoch`` (last
completed, -1 for none), ``lr_drops``, the early-stopping state, the best validation accuracy, and the
resolved ``config``. The model is saved unwrapped (no DDP ``module.`` prefix).
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torchvision import models
from yacs.config import CfgNode

from core.aigvdet.classifier import build_classifier
from core.aigvdet.training.config import config_to_dict
from core.aigvdet.training.earlystop import AFTER_DROP_DELTA, FIRST_DELTA, EarlyStopping, drop_learning_rate
from core.atomic import save_checkpoint
from core.checkpoints import extract_state_dict, load_state_dict_strict, read_checkpoint
from core.errors import CheckpointError
from core.runs.distributed import DistInfo
from core.runs.folder import checkpoint_path
from core.runs.precision import autocast, autocast_dtype

log = logging.getLogger(__name__)

# File names of the ImageNet weights in torch's hub cache: torchvision's current IMAGENET1K_V1 files and
# the older names the reference's ``model_zoo.load_url`` downloads (the same weights).
LEGACY_IMAGENET_FILES = {
    "resnet18": "resnet18-5c106cde.pth",
    "resnet34": "resnet34-333f7ec4.pth",
    "resnet50": "resnet50-19c8e357.pth",
    "resnet101": "resnet101-5d3b4d8f.pth",
    "resnet152": "resnet152-b121ed2d.pth",
}


def imagenet_weights_candidates(arch: str) -> list[Path]:
    weights = getattr(models, f"ResNet{arch[len('resnet') :]}_Weights").IMAGENET1K_V1
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    return [cache / os.path.basename(weights.url), cache / LEGACY_IMAGENET_FILES[arch]]


def build_training_model(cfg: CfgNode) -> nn.Module:
    """ResNet with a single-logit head: ImageNet-pretrained trunk when ``pretrained`` and the weights file is
    on disk, and a fresh head with normal(0, init_gain) weights, as the reference's ``get_network``."""
    if not cfg.pretrained:
        model = build_classifier(cfg.arch)
        nn.init.normal_(model.fc.weight.data, 0.0, cfg.init_gain)
        return model
    if cfg.pretrained_path:
        path = Path(cfg.pretrained_path)
        if not path.is_file():
            raise CheckpointError(f"pretrained_path {path} not found (torchvision ImageNet {cfg.arch} weights)")
    else:
        candidates = imagenet_weights_candidates(cfg.arch)
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            log.warning(
                "ImageNet %s weights not found (looked for %s); training from a RANDOM initialisation. "
                "Download %s into %s or set pretrained_path FILE; set pretrained False to silence this.",
                cfg.arch,
                " and ".join(str(p) for p in candidates),
                candidates[0].name,
                candidates[0].parent,
            )
            model = build_classifier(cfg.arch)
            nn.init.normal_(model.fc.weight.data, 0.0, cfg.init_gain)
            return model
    model = getattr(models, cfg.arch)(weights=None)  # the 1000-class net the file fits
    load_state_dict_strict(
        model, extract_state_dict(read_checkpoint(path, "ImageNet weights")), f"ImageNet weights {path}"
    )
    log.info("initialised %s from ImageNet weights %s", cfg.arch, path)
    model.fc = nn.Linear(model.fc.in_features, 1)  # bias keeps nn.Linear's default init, as the reference
    nn.init.normal_(model.fc.weight.data, 0.0, cfg.init_gain)
    return model


def scheduled_lr(cfg: CfgNode, epoch: int) -> float:
    """Learning rate of ``epoch`` (0-based) before early-stopping drops.

    Without warm-up: ``lr``. With it, what the reference's GradualWarmupScheduler (multiplier 1, stepped once
    at start and after every epoch) followed by CosineAnnealingLR(nepoch - warmup_epoch, eta_min) gives:
    lr * (epoch + 1) / warmup_epoch during warm-up, then cosine from lr down to min_lr.
    """
    if not cfg.warmup:
        return cfg.lr
    warm = cfg.warmup_epoch
    if epoch < warm:
        return cfg.lr * (epoch + 1) / warm
    span = max(cfg.nepoch - warm, 1)
    return cfg.min_lr + (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * (epoch - warm) / span)) / 2


class Trainer:
    """One process's model (DDP-wrapped when distributed), optimiser, mixed precision and bookkeeping."""

    def __init__(self, cfg: CfgNode, dist_info: DistInfo) -> None:
        self.cfg, self.dist = cfg, dist_info
        self.device = dist_info.device
        self.on_cuda = self.device.type == "cuda"
        self.model = build_training_model(cfg).to(self.device)
        if self.on_cuda and cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.amp_dtype = autocast_dtype(cfg.precision) if self.on_cuda else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype is torch.float16)
        self.optimizer = self._new_optimizer()
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.total_steps = 0
        self.epoch = -1  # last completed epoch
        self.lr_drops = 0
        self.best_acc: float | None = None
        self.stopper = EarlyStopping(patience=cfg.earlystop_epoch, delta=FIRST_DELTA)
        self.network = self.model
        if dist_info.distributed:
            self.network = DistributedDataParallel(self.model, device_ids=[self.device.index] if self.on_cuda else None)

    def _new_optimizer(self) -> torch.optim.Optimizer:
        if self.cfg.optim == "adam":
            # The fused kernel computes the same update (CPU and CUDA) in one pass over all tensors: 30x
            # faster than the per-tensor loop on the CPU. Older torch builds without it use the plain one.
            try:
                return torch.optim.Adam(
                    self.model.parameters(), lr=self.cfg.lr, betas=(self.cfg.beta1, 0.999), fused=True
                )
            except (RuntimeError, TypeError, ValueError):
                return torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr, betas=(self.cfg.beta1, 0.999))
        return torch.optim.SGD(self.model.parameters(), lr=self.cfg.lr, momentum=0.9, weight_decay=5e-4)

    # ------------------------------------------------------------ steps
    def autocast(self):
        return autocast(self.device, self.cfg.precision)

    def _to_device(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        if self.on_cuda and self.cfg.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def start_epoch(self, epoch: int) -> None:
        """Warm-up/cosine learning rate for this epoch (drops included); constant lr is left as it is."""
        if self.cfg.warmup:
            for group in self.optimizer.param_groups:
                group["lr"] = scheduled_lr(self.cfg, epoch) * 0.1**self.lr_drops
        self.network.train()

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """One optimisation step; returns the (detached) loss without forcing a device sync."""
        images, labels = self._to_device(images), labels.to(self.device, non_blocking=True).float()
        with self.autocast():
            logits = self.network(images)
        loss = self.loss_fn(logits.float().squeeze(1), labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.total_steps += 1
        return loss.detach()

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Fake probabilities (sigmoid of the logit) of a batch, on the CPU, with the unwrapped model."""
        with self.autocast():
            logits = self.model(self._to_device(images))
        return logits.float().sigmoid().flatten().cpu()

    def drop_lr(self) -> bool:
        """The reference's ``adjust_learning_rate``; a fresh stopper with the wider delta on success."""
        self.lr_drops += 1
        keep_going = drop_learning_rate(self.optimizer, self.cfg.min_lr)
        if keep_going:
            self.stopper = EarlyStopping(patience=self.cfg.earlystop_epoch, delta=AFTER_DROP_DELTA)
        return keep_going

    # ------------------------------------------------------------ checkpoints
    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "total_steps": self.total_steps,
            "epoch": self.epoch,
            "lr_drops": self.lr_drops,
            "best_acc": self.best_acc,
            "early_stopping": self.stopper.state_dict(),
            "arch": self.cfg.arch,
            "config": config_to_dict(self.cfg),
        }

    def save(self, run_dir: str | os.PathLike, tag: str | int) -> Path:
        """Write ``ckpt/model_epoch_<tag>.pth`` of the run folder, atomically."""
        return save_checkpoint(self.state(), checkpoint_path(run_dir, tag))

    def load(self, path: str | os.PathLike) -> None:
        """Resume: model, and unless ``new_optim`` the optimiser (with its lr), step, epoch and stopper."""
        raw = read_checkpoint(path, "checkpoint to resume from (continue_train)")
        if not isinstance(raw, dict) or "model" not in raw:
            raise CheckpointError(f"{path} is not a training checkpoint (no 'model' entry)")
        load_state_dict_strict(self.model, extract_state_dict(raw), f"checkpoint {path}")
        self.total_steps = int(raw.get("total_steps", 0))
        self.epoch = int(raw.get("epoch", -1))
        self.best_acc = raw.get("best_acc")
        if self.cfg.new_optim:
            log.info("new_optim: fresh optimiser at lr %g", self.cfg.lr)
            return
        if raw.get("optimizer"):
            try:
                self.optimizer.load_state_dict(raw["optimizer"])
            except (ValueError, KeyError) as exc:
                raise CheckpointError(
                    f"optimizer state in {path} does not fit ({exc}); "
                    "resume with new_optim True to start a fresh optimiser"
                ) from None
        self.lr_drops = int(raw.get("lr_drops", 0))
        if raw.get("early_stopping"):
            self.stopper.load_state_dict(raw["early_stopping"])
        log.info("resumed from %s: epoch %d done, step %d, lr %g", path, self.epoch, self.total_steps, self.lr)
