import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, training_opts
from utils.errors import ConfigError

S_CONFIG = "config/classification/edgeformer/edgeformer_s.yaml"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def test_yaml_values_are_read_with_dotted_names():
    opts = training_opts(["--common.config-file", S_CONFIG])
    assert getattr(opts, "model.classification.edge.scale") == "scale_s"
    assert getattr(opts, "model.classification.edge.instance_kernel") == "interpolation_bilinear"
    assert getattr(opts, "scheduler.cosine.max_lr") == pytest.approx(0.004)
    assert getattr(opts, "stats.name") == ["loss", "top1", "top5"]
    assert getattr(opts, "common.config_file").endswith("edgeformer_s.yaml")


def test_command_line_beats_yaml_beats_defaults():
    opts = training_opts(["--common.config-file", S_CONFIG, "--scheduler.cosine.max-lr", "0.01"])
    assert getattr(opts, "scheduler.cosine.max_lr") == pytest.approx(0.01)  # command line
    assert getattr(opts, "optim.weight_decay") == pytest.approx(0.025)  # YAML
    assert getattr(opts, "optim.eps") == pytest.approx(1e-8)  # default
    assert getattr(training_opts([]), "scheduler.cosine.max_lr") == pytest.approx(0.1)


def test_config_is_looked_up_under_config_folder():
    opts = training_opts(["--common.config-file", "classification/edgeformer/edgeformer_xs.yaml"])
    assert getattr(opts, "model.classification.edge.scale") == "scale_xs"


def test_yaml_key_spelling_is_accepted_on_the_command_line():
    opts = training_opts(["--model.classification.edge.instance_kernel", "crop"])
    assert getattr(opts, "model.classification.edge.instance_kernel") == "crop"


def test_booleans_can_be_cleared_and_set_from_the_command_line():
    assert getattr(training_opts(["--common.config-file", S_CONFIG]), "ema.enable") is True
    assert getattr(training_opts(["--common.config-file", S_CONFIG, "--ema.enable", "false"]), "ema.enable") is False
    assert getattr(training_opts(["--common.config-file", S_CONFIG, "--ema.enable=0"]), "ema.enable") is False
    assert getattr(training_opts(["--common.auto-resume"]), "common.auto_resume") is True
    assert getattr(training_opts(["--common.auto-resume", "yes"]), "common.auto_resume") is True
    with pytest.raises(ConfigError, match="expected true or false"):
        training_opts(["--common.auto-resume", "perhaps"])


def test_missing_config_file_names_the_path():
    with pytest.raises(ConfigError, match=r"config file not found: no/such/config.yaml"):
        training_opts(["--common.config-file", "no/such/config.yaml"])


def test_unknown_yaml_key_is_named_with_the_closest_valid_key(tmp_path):
    path = write(tmp_path, "model:\n  classification:\n    edge:\n      scal: scale_s\n")
    with pytest.raises(ConfigError, match=r"unknown key 'model.classification.edge.scal' "
                                          r"\(did you mean 'model.classification.edge.scale'\?\)"):
        training_opts(["--common.config-file", path])


@pytest.mark.parametrize("text, key, value", [
    ("scheduler:\n  max_epochs: three\n", "scheduler.max_epochs", "'three'"),
    ("optim:\n  weight_decay: [1, 2]\n", "optim.weight_decay", r"\[1, 2\]"),
    ("ema:\n  enable: maybe\n", "ema.enable", "'maybe'"),
    ("dataset:\n  train_batch_size0: 3.5\n", "dataset.train_batch_size0", "3.5"),
])
def test_wrong_type_names_key_and_value(tmp_path, text, key, value):
    with pytest.raises(ConfigError, match=rf"key '{key}' has value {value} of the wrong type"):
        training_opts(["--common.config-file", write(tmp_path, text)])


def test_wrong_choice_is_reported(tmp_path):
    path = write(tmp_path, "model:\n  classification:\n    edge:\n      scale: scale_xl\n")
    with pytest.raises(ConfigError, match=r"'model.classification.edge.scale' has value 'scale_xl'; choose one of"):
        training_opts(["--common.config-file", path])


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, "common:\n  seed: 1\n bad indentation: [\n")
    with pytest.raises(ConfigError, match=r"is not valid YAML \(line \d+"):
        training_opts(["--common.config-file", path])


def test_every_reference_config_parses():
    configs = sorted((ROOT / "config").rglob("*.yaml"))
    assert len(configs) >= 6
    for config in configs:
        training_opts(["--common.config-file", str(config)])


def test_entry_point_prints_one_line_and_exits_2(tmp_path):
    path = write(tmp_path, "optim:\n  weight_decayy: 0.1\n")
    result = subprocess.run([sys.executable, "main_train.py", "--common.config-file", path], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "optim.weight_decayy" in lines[0]


def test_help_lists_registered_groups():
    result = subprocess.run([sys.executable, "main_train.py", "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0
    for title in ("ParC-Net (model.classification.name: edgeformer)", "MobileViT (model.classification.name:",
                  "Variable batch sampler", "Learning-rate schedule", "Random resized crop"):
        assert title in result.stdout
    options_part = result.stdout[result.stdout.index("\nCommon arguments:"):]  # after --help and --print-config
    flat = " ".join(options_part.split())
    options = [line for line in options_part.splitlines() if line.startswith("  --")]
    assert flat.count("(default:") == len(options) > 250  # each option says its default once


def test_option_tables_take_their_types_from_the_defaults():
    from options import OptionParser
    from utils.opts import add_options

    parser = OptionParser()
    add_options(parser, "--demo", [("flag", False, "a flag"), ("sizes", [3, 5], "ints"), ("rate", 0.5, "a float"),
                                   ("name", None, "a name", dict(type=str, choices=["a", "b"])),
                                   ("pair", [1.0, 2.0], "two floats", dict(nargs=2))])
    parsed = vars(parser.parse_args(["--demo.flag", "--demo.sizes", "7", "9", "--demo.rate", "2",
                                     "--demo.name", "b", "--demo.pair", "3", "4"]))
    assert parsed == {"demo.flag": True, "demo.sizes": [7, 9], "demo.rate": 2.0, "demo.name": "b",
                      "demo.pair": [3.0, 4.0]}
    assert vars(parser.parse_args(["--demo.flag", "false"]))["demo.flag"] is False
    with pytest.raises(ConfigError):
        parser.parse_args(["--demo.pair", "1"])
    with pytest.raises(TypeError, match="--demo.bare: a None default needs an explicit type"):
        add_options(parser, "--demo", [("bare", None, "no type")])
