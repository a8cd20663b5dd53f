"""AIGVDet training: the reference's ``train.py`` (config, augmentations, early stopping with lr drops,
checkpoints in its format) with resume, DistributedDataParallel, bf16 and channels_last on GPU."""

from core.aigvdet.training.config import ConfigError, build_config, get_default_config, save_config
from core.aigvdet.training.loop import TrainResult, launch, train

__all__ = ["ConfigError", "TrainResult", "build_config", "get_default_config", "launch", "save_config", "train"]
