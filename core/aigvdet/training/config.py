"""Training configuration: AIGVDet's keys and default values as a yacs config, with the reference's
command-line overrides (``datasets a,b lr 1e-5``), YAML files and a saved copy beside every run.

Order of precedence (later wins): defaults; the experiment's saved ``config.yaml`` when resuming
(``continue_train True``, as the reference re-reads ``data/exp/<name>/config.py``); ``--config FILE``;
trailing ``KEY VALUE`` pairs. A value is converted to the type of the default, as the reference does:
booleans accept true/false/yes/no/1/0, lists are comma separated (``datasets a,b`` or ``[a, b]``).

Paths are relative to the working directory (the reference resolves them against its repository).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml
from yacs.config import CfgNode

from core.aigvdet.preprocess import CROP_SIZE
from core.cli import str2bool
from core.errors import ToolkitError
from core.runs import folder as run_folder
from core.runs.precision import PRECISIONS

log = logging.getLogger(__name__)


class ConfigError(ToolkitError, ValueError):
    """A configuration the user has to fix: unknown key, bad value, missing data folder."""


def get_default_config() -> CfgNode:
    """A fresh copy of the defaults. Values are the reference's (``core/utils1/config.py`` and the crop,
    normalisation and JPEG choices hard-coded in its dataset), plus a few keys of ours at the end."""
    c = CfgNode()
    # ---- base setting (reference)
    c.gpus = [0]
    c.seed = 3407
    c.arch = "resnet50"
    c.datasets = ["zhaolian_train"]
    c.datasets_test = ["adm_res_abs_ddim20s"]
    c.mode = "binary"
    c.class_bal = False
    c.batch_size = 64  # global: split over the processes of a multi-GPU run, so results do not depend on it
    c.loadSize = 256
    # The reference's config says 224 but its dataset hard-codes 448 (random crop to train, centre crop to
    # validate); 448 is what the official weights were trained with, and what test.py / demo.py crop.
    c.cropSize = CROP_SIZE
    c.epoch = "latest"  # which ckpt/model_epoch_<epoch>.pth continue_train loads
    c.num_workers = 20
    c.serial_batches = False  # True: no shuffling
    c.isTrain = True

    # ---- data augmentation (reference). Applied to training images only.
    c.rz_interp = ["bilinear"]
    c.blur_prob = 0.1
    c.blur_sig = [0.5]  # one value, or [low, high] for a uniform draw
    c.jpg_prob = 0.1
    c.jpg_method = ["cv2"]  # cv2 and/or pil
    c.jpg_qual = [75]  # one quality is drawn from the list
    c.gray_prob = 0.0
    c.aug_resize = True
    c.aug_crop = True  # validation: centre crop (False: whole images, which then must share one size)
    c.aug_flip = True
    c.aug_norm = True  # ImageNet mean/std normalisation

    # ---- train setting (reference)
    c.warmup = False  # linear warm-up over warmup_epoch epochs, then cosine annealing down to min_lr
    c.warmup_epoch = 3
    c.earlystop = True
    c.earlystop_epoch = 5  # patience, in epochs without a better validation accuracy
    c.optim = "adam"
    c.new_optim = False  # continue_train with a fresh optimiser (and lr) instead of the saved one
    c.loss_freq = 400
    c.save_latest_freq = 2000  # steps
    c.save_epoch_freq = 20  # epochs
    c.continue_train = False
    c.epoch_count = 1
    c.last_epoch = -1
    c.nepoch = 400
    c.beta1 = 0.9
    c.lr = 0.0001
    c.init_type = "normal"
    c.init_gain = 0.02
    c.pretrained = True

    # ---- paths (reference layout: <dataset_root>/{train,val}/<dataset>, <exp_root>/<exp_name>)
    c.dataset_root = "data"
    c.exp_root = os.path.join("data", "exp")
    c.exp_name = ""

    # ---- ours
    c.min_lr = 1e-6  # stop when an early-stopping lr drop would go below this (reference: adjust_learning_rate)
    c.pretrained_path = ""  # torchvision ImageNet weights file; empty: look in the torch hub cache
    c.precision = "bf16"  # autocast dtype on CUDA: bf16, fp16 or fp32 (the CPU always trains in fp32)
    c.channels_last = True  # memory format on CUDA
    c.val_batch_size = 0  # 0: batch_size
    c.max_train_steps = 0  # stop an epoch after this many steps (0: whole epoch); for smoke tests and benches
    return c


# Keys the reference declares but its training never reads; accepted so its command lines keep working.
NO_EFFECT_KEYS = (
    "loadSize",
    "rz_interp",
    "aug_resize",
    "gray_prob",
    "isTrain",
    "epoch_count",
    "last_epoch",
    "init_type",
    "loss_freq",
)
SUPPORTED = {
    "mode": ("binary",),
    "optim": ("adam", "sgd"),
    "precision": tuple(PRECISIONS),
    "jpg_method": ("cv2", "pil"),
}


def _to_bool(key: str, value: Any) -> bool:
    try:
        return str2bool(value if isinstance(value, bool) else str(value).strip())
    except argparse.ArgumentTypeError:
        raise ConfigError(f"config key {key} expects true/false, got {value!r}") from None


def coerce_value(key: str, default: Any, value: Any) -> Any:
    """``value`` (a command-line string or a YAML value) converted to the type of ``default``."""
    try:
        if isinstance(default, bool):
            return _to_bool(key, value)
        if isinstance(default, (list, tuple)):
            items = (
                value
                if isinstance(value, (list, tuple))
                else [part.strip() for part in str(value).strip().lstrip("[").rstrip("]").split(",")]
            )
            items = [item.strip("'\"") if isinstance(item, str) else item for item in items]
            items = [item for item in items if item != ""]
            if default:  # element type of the default's first element, as the reference's str2list
                kind = type(default[0])
                items = [_to_bool(key, item) if kind is bool else kind(item) for item in items]
            return list(items)
        if isinstance(default, int):
            as_float = float(value)
            if not as_float.is_integer():
                raise ValueError("not an integer")
            return int(as_float)
        if isinstance(default, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config key {key}: cannot use {value!r} as {type(default).__name__} ({exc})") from None


def merge_dict(cfg: CfgNode, values: dict, source: str) -> None:
    """Set every key of ``values`` on ``cfg``; an unknown key is an error naming it and ``source``."""
    for key, value in values.items():
        if key not in cfg:
            raise ConfigError(f"unknown config key {key!r} (from {source}); known keys: {', '.join(sorted(cfg))}")
        cfg[key] = coerce_value(key, cfg[key], value)


def overrides_to_dict(opts: Sequence[str]) -> dict[str, str]:
    """Trailing ``KEY VALUE KEY VALUE`` arguments as a dict (the reference's ``args_list2dict``)."""
    opts = list(opts)
    if opts and opts[0] == "--":
        opts = opts[1:]
    if len(opts) % 2:
        raise ConfigError(f"config overrides must be KEY VALUE pairs; got an odd number of words: {' '.join(opts)}")
    return dict(zip(opts[::2], opts[1::2]))


def load_yaml(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping of KEY: VALUE, found {type(values).__name__}")
    return values


def exp_dir(cfg: CfgNode) -> Path:
    return Path(cfg.exp_root) / cfg.exp_name


def build_config(
    exp_name: str = "", gpus: Iterable[int] | None = None, config_file: str | None = None, opts: Sequence[str] = ()
) -> CfgNode:
    """Resolve the configuration of a run (see the module docstring for the order) and validate it."""
    cfg = get_default_config()
    overrides = overrides_to_dict(opts)
    file_values = load_yaml(config_file) if config_file else {}
    resuming = _to_bool("continue_train", overrides.get("continue_train", file_values.get("continue_train", False)))
    if resuming:
        exp_root = overrides.get("exp_root", file_values.get("exp_root", cfg.exp_root))
        saved = Path(exp_root) / exp_name / run_folder.CONFIG_NAME
        if saved.is_file():
            merge_dict(cfg, load_yaml(saved), str(saved))
            log.info("resuming: starting from the saved configuration %s", saved)
    merge_dict(cfg, file_values, str(config_file))
    merge_dict(cfg, overrides, "the command line")
    cfg.exp_name = exp_name
    if gpus is not None:
        cfg.gpus = [int(g) for g in gpus]
    validate_config(cfg)
    cfg.freeze()
    return cfg


def validate_config(cfg: CfgNode) -> None:
    """Reject values the training cannot run with, naming the key."""
    for key, allowed in SUPPORTED.items():
        values = cfg[key] if isinstance(cfg[key], list) else [cfg[key]]
        for value in values:
            if value not in allowed:
                raise ConfigError(f"config key {key}: {value!r} is not supported; choose from {', '.join(allowed)}")
    from core.aigvdet.classifier import ARCHS

    if cfg.arch not in ARCHS:
        raise ConfigError(f"config key arch: {cfg.arch!r} is not supported; choose from {', '.join(ARCHS)}")
    positive = ("batch_size", "cropSize", "nepoch", "save_latest_freq", "save_epoch_freq", "earlystop_epoch")
    for key in positive:
        if cfg[key] <= 0:
            raise ConfigError(f"config key {key} must be positive, got {cfg[key]}")
    for key in ("blur_prob", "jpg_prob"):
        if not 0.0 <= cfg[key] <= 1.0:
            raise ConfigError(f"config key {key} must be a probability in [0, 1], got {cfg[key]}")
    if len(cfg.blur_sig) not in (1, 2):
        raise ConfigError(f"config key blur_sig takes one sigma or a [low, high] range, got {cfg.blur_sig}")
    if not cfg.jpg_qual or any(not 0 <= q <= 100 for q in cfg.jpg_qual):
        raise ConfigError(f"config key jpg_qual needs qualities in [0, 100], got {cfg.jpg_qual}")
    if not cfg.datasets or not cfg.datasets_test:
        raise ConfigError("config keys datasets and datasets_test need at least one dataset name each")
    if cfg.lr <= 0 or cfg.min_lr <= 0:
        raise ConfigError(f"lr and min_lr must be positive, got {cfg.lr} and {cfg.min_lr}")
    if not cfg.exp_name:
        raise ConfigError("an experiment name (exp_name) is required: the run is saved under <exp_root>/<exp_name>")
    defaults = get_default_config()
    changed = [key for key in NO_EFFECT_KEYS if cfg[key] != defaults[key]]
    if changed:
        log.warning(
            "config keys %s have no effect (the reference declares them but never uses them)", ", ".join(changed)
        )


def config_to_dict(cfg: CfgNode) -> dict:
    """Plain built-in types only, so the config can sit inside a ``weights_only`` checkpoint."""
    return {key: (list(value) if isinstance(value, (list, tuple)) else value) for key, value in cfg.items()}


def save_config(cfg: CfgNode, folder: str | os.PathLike) -> Path:
    """Write the resolved configuration as the run folder's ``config.yaml`` (reloadable with ``--config``)."""
    return run_folder.save_config(folder, config_to_dict(cfg))
