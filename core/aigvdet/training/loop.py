"""The training loop of the reference's ``train.py``: epochs over the training frames, validation after each,
early stopping with learning-rate drops, checkpoints under ``<exp_root>/<exp_name>/ckpt``.

Experiment folder::

    <exp_root>/<exp_name>/config.yaml          resolved configuration (reload with --config)
    <exp_root>/<exp_name>/logs.txt             the log
    <exp_root>/<exp_name>/metrics.{csv,json}   per epoch: loss, lr, ACC, AP, AUC, R_ACC, F_ACC, speed
    <exp_root>/<exp_name>/tb/                  TensorBoard events (when tensorboard is installed)
    <exp_root>/<exp_name>/ckpt/model_epoch_latest.pth   every epoch end and every save_latest_freq steps
    <exp_root>/<exp_name>/ckpt/model_epoch_best.pth     best validation accuracy so far
    <exp_root>/<exp_name>/ckpt/model_epoch_<N>.pth      epochs N with N % save_epoch_freq == 0

Differences from the reference, all for resuming or correctness: ``latest`` is also written at every epoch
end (the reference only every save_epoch_freq epochs), checkpoints carry epoch/early-stopping state, and
``best`` is only replaced by a better accuracy (the reference's fresh stopper after an lr drop overwrites it).
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from yacs.config import CfgNode

from core.aigvdet.training.config import exp_dir, save_config
from core.aigvdet.training.data import IndexedDataset, ShardedSampler, ValidationSampler, build_dataset, seed_worker
from core.aigvdet.training.engine import Trainer
from core.aigvdet.training.metrics import binary_metrics
from core.runs import distributed
from core.runs.folder import MetricsLog, checkpoint_path
from core.runs.progress import progress_bar
from core.runs.seed import seed_everything

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    exp_dir: Path
    history: list[dict] = field(default_factory=list)
    stopped_early: bool = False
    total_steps: int = 0
    is_primary: bool = True

    @property
    def last(self) -> dict:
        return self.history[-1] if self.history else {}


def _loader(dataset, sampler, batch_size: int, cfg: CfgNode, seed: int, device: torch.device) -> DataLoader:
    workers = min(int(cfg.num_workers), os.cpu_count() or 1)
    if workers < cfg.num_workers:
        log.debug("num_workers %d capped at %d CPUs", cfg.num_workers, workers)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        worker_init_fn=seed_worker,
        generator=torch.Generator().manual_seed(seed),
        drop_last=False,
    )


def per_process_batch(cfg: CfgNode, world_size: int) -> int:
    """``batch_size`` is the global batch (the reference's, on one GPU); each process takes its share."""
    if cfg.batch_size % world_size:
        raise ValueError(f"batch_size {cfg.batch_size} does not split over {world_size} processes")
    return cfg.batch_size // world_size


@torch.no_grad()
def validate(trainer: Trainer, loader: DataLoader, dist_info: distributed.DistInfo) -> dict[str, float]:
    """The metrics of the whole validation set: each process scores its share, all gather, all compute."""
    trainer.model.eval()
    indices, probs, labels = [], [], []
    for images, batch_labels, batch_indices in loader:
        probs.append(trainer.predict(images))
        labels.append(batch_labels)
        indices.append(batch_indices)
    local = (
        (torch.cat(indices).tolist(), torch.cat(probs).tolist(), torch.cat(labels).tolist())
        if indices
        else ([], [], [])
    )
    merged: dict[int, tuple[float, int]] = {}
    for part_indices, part_probs, part_labels in distributed.all_gather_objects(local):
        merged.update(zip(part_indices, zip(part_probs, part_labels)))
    order = sorted(merged)
    return binary_metrics([merged[i][1] for i in order], [merged[i][0] for i in order])


def _attach_log_file(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, mode="a")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    if logging.getLogger().level > logging.INFO or logging.getLogger().level == logging.NOTSET:
        logging.getLogger().setLevel(logging.INFO)
    return handler


def train(cfg: CfgNode, show_progress: bool = True) -> TrainResult:
    """Train in this process (joining the process group when torchrun or ``spawn`` started several)."""
    with distributed.process_group() as dist_info:
        return _train(cfg, dist_info, show_progress)


def _train(cfg: CfgNode, dist_info: distributed.DistInfo, show_progress: bool) -> TrainResult:
    primary = dist_info.is_primary
    folder = exp_dir(cfg)
    handler = None
    if primary:
        save_config(cfg, folder)
        handler = _attach_log_file(folder / "logs.txt")
    else:  # one voice: the other ranks only report problems
        logging.getLogger("core").setLevel(logging.WARNING)
    try:
        seed_everything(cfg.seed + dist_info.rank)
        if dist_info.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed 448x448 crops: pick the fastest kernels once

        train_set, val_set = build_dataset(cfg, "train"), build_dataset(cfg, "val")
        batch = per_process_batch(cfg, dist_info.world_size)
        sampler = ShardedSampler(
            train_set.targets,
            dist_info.world_size,
            dist_info.rank,
            shuffle=not cfg.serial_batches,
            class_balance=cfg.class_bal,
            seed=cfg.seed,
        )
        train_loader = _loader(train_set, sampler, batch, cfg, cfg.seed + dist_info.rank, dist_info.device)
        val_batch = cfg.val_batch_size or batch
        val_loader = _loader(
            IndexedDataset(val_set),
            ValidationSampler(len(val_set), dist_info.world_size, dist_info.rank),
            val_batch,
            cfg,
            cfg.seed,
            dist_info.device,
        )
        log.info(
            "%d training images (%s), %d validation images (%s); %d process(es) on %s, batch %d (%d each)",
            len(train_set),
            ", ".join(cfg.datasets),
            len(val_set),
            ", ".join(cfg.datasets_test),
            dist_info.world_size,
            dist_info.device.type,
            cfg.batch_size,
            batch,
        )

        trainer = Trainer(cfg, dist_info)
        if cfg.continue_train:
            trainer.load(checkpoint_path(folder, cfg.epoch))
        recorder = MetricsLog(folder, start_epoch=trainer.epoch + 1) if primary else None
        result = TrainResult(folder, is_primary=primary)

        def save(tag):
            if primary:
                trainer.save(folder, tag)

        for epoch in range(trainer.epoch + 1, cfg.nepoch):
            sampler.set_epoch(epoch)
            trainer.start_epoch(epoch)
            started, seen, loss_sum = time.perf_counter(), 0, torch.zeros((), device=dist_info.device)
            steps_this_epoch = (
                len(train_loader) if not cfg.max_train_steps else min(len(train_loader), cfg.max_train_steps)
            )
            bar = progress_bar(steps_this_epoch, f"epoch {epoch}", "batch", enabled=primary and show_progress)
            for step, (images, labels) in enumerate(train_loader):
                if step >= steps_this_epoch:
                    break
                loss = trainer.train_step(images, labels)
                loss_sum += loss
                seen += len(images) * dist_info.world_size
                if trainer.total_steps % cfg.save_latest_freq == 0:
                    log.info(
                        "saving the latest model %s (epoch %d, total_steps %d)",
                        cfg.exp_name,
                        epoch,
                        trainer.total_steps,
                    )
                    save("latest")  # epoch in the file is still the last completed one: resume redoes this one
                bar.update(1)
                if step % 10 == 0 or step == steps_this_epoch - 1:
                    elapsed = time.perf_counter() - started
                    bar.set_postfix(loss=f"{loss.item():.4f}", img_s=f"{seen / max(elapsed, 1e-9):.1f}")
            bar.close()
            train_seconds = time.perf_counter() - started
            train_loss = distributed.mean_over_ranks((loss_sum / max(steps_this_epoch, 1)).item(), dist_info.device)

            metrics = validate(trainer, val_loader, dist_info)
            row = {
                "epoch": epoch,
                "total_steps": trainer.total_steps,
                "lr": trainer.lr,
                "train_loss": train_loss,
                **metrics,
                "train_images_per_s": seen / max(train_seconds, 1e-9),
                "epoch_seconds": time.perf_counter() - started,
            }
            result.history.append(row)
            log.info(
                "(Val @ epoch %d) ACC %.4f AP %.4f AUC %.4f R_ACC %.4f F_ACC %.4f | loss %.4f lr %.3g %.1f img/s",
                epoch,
                metrics["ACC"],
                metrics["AP"],
                metrics["AUC"],
                metrics["R_ACC"],
                metrics["F_ACC"],
                train_loss,
                trainer.lr,
                row["train_images_per_s"],
            )
            if recorder:
                recorder.add(row)

            trainer.epoch = epoch
            stop = False
            if trainer.best_acc is None or metrics["ACC"] > trainer.best_acc:
                trainer.best_acc = metrics["ACC"]
                save("best")
            if cfg.earlystop:
                trainer.stopper.step(metrics["ACC"])
                if trainer.stopper.early_stop:
                    if trainer.drop_lr():
                        log.info("Learning rate dropped by 10 to %g, continue training...", trainer.lr)
                    else:
                        log.info("Early stopping: the next learning rate would be below min_lr %g.", cfg.min_lr)
                        stop = result.stopped_early = True
            if epoch % cfg.save_epoch_freq == 0:
                log.info("saving the model at the end of epoch %d, iters %d", epoch, trainer.total_steps)
                save(epoch)
            save("latest")
            if stop:
                break
        result.total_steps = trainer.total_steps
        distributed.barrier()  # nobody leaves (and tears down the group) before the primary has saved
        if recorder:
            recorder.close()
        if primary and not math.isnan(result.last.get("AUC", math.nan)):
            log.info("done: %s (best val ACC %.4f)", folder / "ckpt", trainer.best_acc)
        return result
    finally:
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()


def launch(cfg: CfgNode, show_progress: bool = True) -> TrainResult | None:
    """Train on ``cfg.gpus``: in this process, or in one spawned process per GPU when several are listed
    and torchrun did not start us (then the result stays in the experiment folder; None is returned)."""
    distributed.select_gpus(list(cfg.gpus))  # before anything asks CUDA how many devices there are
    if not distributed.launched_by_torchrun() and len(cfg.gpus) > 1:
        if torch.cuda.is_available():
            log.info("starting %d training processes, one per GPU (%s)", len(cfg.gpus), cfg.gpus)
            distributed.spawn(train, len(cfg.gpus), cfg, show_progress)
            return None
        log.warning("gpus lists %d GPUs but CUDA is not available: training in one CPU process", len(cfg.gpus))
    return train(cfg, show_progress)
