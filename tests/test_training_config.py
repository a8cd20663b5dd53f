"""Training configuration: the reference's defaults, KEY VALUE overrides, YAML files, saved copies."""

from __future__ import annotations

import pytest
import yaml

import train
from core.aigvdet.training import ConfigError, build_config, get_default_config
from core.aigvdet.training.config import overrides_to_dict, save_config
from core.cli import run_cli
from core.errors import ToolkitError


def test_defaults_are_the_reference_values():
    cfg = get_default_config()
    assert (cfg.arch, cfg.seed, cfg.batch_size, cfg.cropSize) == ("resnet50", 3407, 64, 448)
    assert (cfg.blur_prob, cfg.blur_sig, cfg.jpg_prob, cfg.jpg_qual, cfg.jpg_method) == (0.1, [0.5], 0.1, [75], ["cv2"])
    assert (cfg.lr, cfg.beta1, cfg.optim, cfg.earlystop, cfg.earlystop_epoch, cfg.nepoch) == (
        1e-4,
        0.9,
        "adam",
        True,
        5,
        400,
    )
    assert (cfg.save_latest_freq, cfg.save_epoch_freq, cfg.class_bal, cfg.num_workers) == (2000, 20, False, 20)
    assert (cfg.warmup, cfg.warmup_epoch, cfg.continue_train, cfg.pretrained, cfg.init_gain) == (
        False,
        3,
        False,
        True,
        0.02,
    )
    assert cfg.aug_flip and cfg.aug_norm and cfg.aug_crop and cfg.min_lr == 1e-6


def test_trailing_overrides_convert_like_the_reference():
    cfg = build_config(
        "exp",
        [0, 1],
        None,
        [
            "datasets",
            "a,b",
            "datasets_test",
            "[c]",
            "lr",
            "1e-5",
            "class_bal",
            "yes",
            "batch_size",
            "8",
            "blur_sig",
            "0.0,3.0",
        ],
    )
    assert cfg.datasets == ["a", "b"] and cfg.datasets_test == ["c"]
    assert cfg.lr == 1e-5 and cfg.class_bal is True and cfg.batch_size == 8 and cfg.blur_sig == [0.0, 3.0]
    assert cfg.gpus == [0, 1] and cfg.exp_name == "exp"


@pytest.mark.parametrize(
    "opts, words",
    [
        (["no_such_key", "1"], ["no_such_key", "command line"]),
        (["lr"], ["odd", "lr"]),
        (["batch_size", "many"], ["batch_size", "many"]),
        (["class_bal", "maybe"], ["class_bal", "maybe"]),
        (["arch", "vgg16"], ["arch", "vgg16"]),
        (["jpg_method", "cv2,png"], ["jpg_method", "png"]),
    ],
)
def test_bad_overrides_are_errors_that_name_the_problem(opts, words):
    with pytest.raises(ConfigError) as info:
        build_config("exp", None, None, opts)
    assert all(word in str(info.value) for word in words)
    assert isinstance(info.value, ToolkitError) and isinstance(info.value, ValueError)


def test_yaml_file_then_command_line(tmp_path):
    config_file = tmp_path / "c.yaml"
    config_file.write_text("lr: 1e-3\ndatasets: [x, y]\nnepoch: 7\n")  # PyYAML reads 1e-3 as a string
    cfg = build_config("exp", None, str(config_file), ["nepoch", "9"])
    assert cfg.lr == 1e-3 and cfg.datasets == ["x", "y"] and cfg.nepoch == 9
    config_file.write_text("lr: 1e-3\nlearning_rate: 2\n")
    with pytest.raises(ConfigError, match=r"learning_rate.*c\.yaml"):
        build_config("exp", None, str(config_file), [])


def test_saved_config_reloads_to_the_same_config(tmp_path):
    cfg = build_config("exp", [2], None, ["datasets", "a,b", "lr", "3e-5", "warmup", "true"])
    saved = save_config(cfg, tmp_path)
    assert yaml.safe_load(saved.read_text())["datasets"] == ["a", "b"]
    assert build_config("exp", [2], str(saved), []) == cfg


def test_missing_exp_name_and_unknown_key_exit_with_one_error_line(capsys):
    assert run_cli(train.main, train.get_args_parser(), ["datasets", "a"]) == 1
    assert "exp_name" in capsys.readouterr().err
    assert run_cli(train.main, train.get_args_parser(), ["--exp_name", "x", "crop_size", "64"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unknown config key 'crop_size'") and len(err.strip().splitlines()) == 1


def test_overrides_accept_a_leading_double_dash():
    assert overrides_to_dict(["--", "lr", "1"]) == {"lr": "1"}
