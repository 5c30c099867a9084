"""The command line as a new user meets it: a short usage, help filtered to the config's task with
the config's values, --print-config, model names for configs, and answers given before torch is
imported."""
from __future__ import annotations

import os
import subprocess
import sys
from typing import List

import pytest
import yaml

from conftest import ROOT, training_opts
from helpers_training import DEMO_CONFIG
from utils.config_file import flatten
from utils.opts import opts_to_dict

SSD_CONFIG = "config/detection/demo/ssd_parcnet_digits.yaml"
DET_ONLY_GROUPS = ("SSD (model.detection.name: ssd)", "Detection models", "Detection evaluation")
SEG_ONLY_GROUPS = ("DeepLabV3 (model.segmentation.seg_head: deeplabv3)", "PASCAL VOC (dataset.name: pascal)")
# runs an entry script's cli() as `python SCRIPT ARGS` does, then says whether torch was imported
HARNESS = ("import runpy, sys\nsys.argv = sys.argv[1:]\ntry:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
           "finally:\n    print('torch imported:', 'torch' in sys.modules, file=sys.stderr)\n")


def run(*args: str, script: str = "main_train.py") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, script, *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, COLUMNS="120"))


def sections(text: str) -> List[str]:
    """The group titles of a help text."""
    return [line[:-1] for line in text.splitlines() if line.endswith(":") and not line.startswith(" ")]


def test_no_arguments_asks_for_a_config_in_one_line():
    result = run()
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: no --common.config-file given: pass a config (config/classification/demo/parcnet_digits.yaml) or a "
        "model name (parcnet_s; parcnet.list_models() lists them); --help lists the options"]


def test_help_with_a_config_shows_its_values_and_its_task_only():
    result = run("--common.config-file", DEMO_CONFIG, "--help")
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == ("usage: main_train.py --common.config-file CONFIG [--KEY VALUE ...] "
                        "[--help | --help-all | --print-config]") and lines[1] == ""
    flat = " ".join(result.stdout.split())
    assert "--scheduler.max-epochs INT training epochs (default: None; config: 14)" in flat
    assert "--ema.momentum FLOAT weight of the current model in each EMA update (default: 0.0001; config: 0.15)" in flat
    assert ("--common.auto-resume [BOOL] continue from <results>/<run>/checkpoint.pt if it exists "
            "(default: false; config: false)") in flat
    shown = sections(result.stdout)
    assert "ParC-Net (model.classification.name: edgeformer)" in shown and "Classification evaluation" not in shown
    assert not set(DET_ONLY_GROUPS + SEG_ONLY_GROUPS) & set(shown)
    hidden = len(sections(run("--common.config-file", DEMO_CONFIG, "--help-all").stdout)) - len(shown)
    assert f"--help-all also shows the {hidden} groups of other tasks" in flat and hidden >= 10


def test_help_of_a_detection_config_shows_detection_and_the_backbones():
    shown = sections(run("--common.config-file", SSD_CONFIG, "-h").stdout)
    assert set(DET_ONLY_GROUPS[:2]) <= set(shown) and "ParC-Net (model.classification.name: edgeformer)" in shown
    assert "Classification loss (loss.category: classification)" not in shown
    assert not set(SEG_ONLY_GROUPS) & set(shown)


def test_help_all_and_help_without_a_config_show_every_group():
    every = sections(run("--help-all").stdout)
    assert set(DET_ONLY_GROUPS[:2] + SEG_ONLY_GROUPS) <= set(every)
    assert sections(run("--help").stdout) == every


def test_eval_cls_help_shows_classification_options_only():
    result = run("--help", script="eval_cls.py")
    assert result.returncode == 0
    shown = sections(result.stdout)
    assert "Classification evaluation" in shown and "ParC-Net (model.classification.name: edgeformer)" in shown
    assert not set(DET_ONLY_GROUPS + SEG_ONLY_GROUPS + ("Segmentation evaluation",)) & set(shown)


def test_print_config_prints_the_resolved_options_and_starts_nothing(tmp_path):
    args = ["--common.config-file", DEMO_CONFIG, "--scheduler.max-epochs", "3", "--common.results-loc",
            str(tmp_path / "results")]
    result = run(*args, "--print-config")
    assert result.returncode == 0 and result.stderr == ""
    printed = flatten(yaml.safe_load(result.stdout))
    expected = opts_to_dict(training_opts(args))
    assert printed == expected
    assert printed["scheduler.max_epochs"] == 3 and printed["model.classification.edge.scale"] == "scale_xs"
    assert not (tmp_path / "results").exists()


def test_a_model_name_is_accepted_where_a_config_path_is():
    result = run("--common.config-file", "parcnet_s", "--print-config")
    assert result.returncode == 0
    printed = flatten(yaml.safe_load(result.stdout))
    assert printed["common.config_file"] == str(ROOT / "config/classification/edgeformer/edgeformer_s.yaml")
    assert printed["model.classification.edge.scale"] == "scale_s"
    wrong = run("--common.config-file", "parcnet_x")
    assert wrong.returncode == 2 and len(wrong.stderr.strip().splitlines()) == 1
    assert wrong.stderr.startswith("error: config file not found: parcnet_x (neither parcnet_x nor ")
    assert "nor is 'parcnet_x' a model name (did you mean parcnet_xs, parcnet_s, parcnet_h?)" in wrong.stderr


@pytest.mark.parametrize("args, expected", [
    (["--help"], "usage: main_train.py"),
    (["--common.config-file", DEMO_CONFIG, "--help"], "(default: None; config: 14)"),
    (["--common.config-file", DEMO_CONFIG, "--print-config"], "max_epochs: 14"),
    (["--common.config-file", DEMO_CONFIG, "--common.seed", "x"], "error: argument --common.seed: invalid int value"),
    (["--common.config-file", DEMO_CONFIG, "--optim.weight-decayy", "1"], "error: unrecognized arguments"),
    (["--common.config-file", "tests/fixtures/no_such.yaml"], "error: config file not found"),
    ([], "error: no --common.config-file given"),
])
def test_help_print_config_and_option_errors_answer_before_torch_is_imported(args, expected):
    result = subprocess.run([sys.executable, "-c", HARNESS, "main_train.py", *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert expected in " ".join((result.stdout + result.stderr).split())
    assert result.stderr.strip().splitlines()[-1] == "torch imported: False"


def test_a_config_error_answers_before_torch_is_imported(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("scheduler:\n  max_epoch: 3\n")
    result = subprocess.run([sys.executable, "-c", HARNESS, "main_train.py", "--common.config-file", str(bad)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "unknown key 'scheduler.max_epoch' (did you mean 'scheduler.max_epochs'?)" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "torch imported: False"


def test_the_mixed_precision_help_says_what_the_runtime_does():
    """On the CPU mixed precision is off unless bfloat16 is asked for; on CUDA it is float16."""
    from utils.runtime import setup_runtime

    def amp(*extra):
        opts = training_opts(["--common.config-file", DEMO_CONFIG, "--common.device", "cpu", "--ddp.enable", "false",
                              *extra])
        return setup_runtime(opts).amp_dtype

    import torch

    assert amp() is None and amp("--common.mixed-precision") is None
    assert amp("--common.mixed-precision", "--common.mixed-precision-dtype", "bfloat16") is torch.bfloat16
    assert amp("--common.mixed-precision", "--common.mixed-precision-dtype", "float16") is None
    flat = " ".join(run("--help").stdout.split())
    assert ("--common.mixed-precision [BOOL] mixed precision: float16 with gradient scaling on CUDA; on the CPU off "
            "unless --common.mixed-precision-dtype bfloat16 is given (bfloat16 autocast)") in flat
    assert "(default: float16 on CUDA, off on the CPU, where only bfloat16 is used)" in flat
