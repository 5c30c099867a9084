"""The Makefile's demos keep earlier runs: they continue an interrupted run (auto-resume), a
complete one says so and is evaluated again (the evaluation and the generated data replaced,
explicitly), no recipe deletes a run folder, and ``DEMO_RUN`` names another run."""
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from helpers_training import tiny_args, write_small_digits

TARGETS = ("demo", "demo-det", "demo-seg", "demo-maskrcnn", "demo-upernet")
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def recipe(target: str, *variables: str) -> list:
    """The commands ``make TARGET`` would run (``make -n``, every prerequisite remade), one per
    line with continuation lines joined."""
    result = subprocess.run(["make", "-n", "--always-make", target, *variables], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.replace("\\\n", " ").splitlines()


@pytest.mark.parametrize("target", TARGETS)
def test_a_demo_target_continues_its_run_and_deletes_nothing(target):
    lines = recipe(target)
    trainings = [line for line in lines if "main_train.py" in line]
    assert trainings and all("--common.auto-resume" in line for line in trainings)
    assert not [line for line in lines if "rm " in line and "results" in line]


def test_demo_run_names_the_run_that_is_trained_evaluated_and_used_as_backbone():
    lines = recipe("demo-det", "DEMO_RUN=second")
    train, evaluate = (next(line for line in lines if script in line) for script in ("main_train.py", "eval_cls.py"))
    assert "--common.run-label second " in f"{train} " and "--common.run-label second " in f"{evaluate} "
    assert "--model.classification.pretrained results/second/checkpoint_ema_avg.pt" in evaluate
    detector = next(line for line in lines if "main_train.py" in line and "ssd_parcnet_digits" in line)
    assert "--model.classification.pretrained results/second/checkpoint_ema_avg.pt" in detector


def test_the_demo_training_command_run_twice_trains_once_and_keeps_the_run(tmp_path):
    """The training line of ``make demo`` as make runs it, on tiny digits for one epoch: the second
    time it says the run is complete and leaves every file of the first as it was."""
    train = next(line for line in recipe("demo", f"PY={sys.executable}") if "main_train.py" in line)
    data = write_small_digits(tmp_path / "digits", per_class_train=6, per_class_val=2, size=24)
    tiny = tiny_args(data, tmp_path / "results", "demo", epochs=1)
    command = shlex.split(train) + tiny[2:tiny.index("--common.run-label")] + tiny[tiny.index("--common.run-label") + 2:]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    folder = tmp_path / "results" / "demo"
    before = {p: p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}
    assert folder / "checkpoint_ema_avg.pt" in before
    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"the run is already complete at epoch 1 of 1 ({folder / 'checkpoint.pt'})" in second.stdout
    assert {p: p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()} == before


@pytest.mark.parametrize("target", TARGETS)
def test_a_demo_target_says_that_it_replaces_its_data_and_its_evaluation(target):
    lines = [shlex.split(line) for line in recipe(target)]
    preparations = [line for line in lines if "data.demo.prepare" in line]
    evaluations = [line for line in lines if any(word.startswith("eval_") and word.endswith(".py") for word in line)]
    assert preparations and all("--overwrite" in line for line in preparations)
    assert evaluations and all("--evaluation.overwrite" in line for line in evaluations)


def test_the_demo_data_and_evaluation_commands_run_twice_succeed(tmp_path):
    """The data and evaluation lines of ``make demo`` as make runs them, twice: the second time the
    data set is written again and the evaluation replaces the first one's metrics."""
    import torch

    from conftest import NO_TRAINING_SET, training_opts
    from cvnets import get_model
    from helpers_training import DEMO_CONFIG
    from utils.io import atomic_save

    lines = [shlex.split(line) for line in recipe("demo", f"PY={sys.executable}")]
    prepare = next(line for line in lines if "data.demo.prepare" in line)
    prepare[prepare.index("--out") + 1] = str(tmp_path / "generated")
    evaluate = next(line for line in lines if "eval_cls.py" in line)
    torch.manual_seed(0)
    atomic_save(get_model(training_opts(["--common.config-file", DEMO_CONFIG])).state_dict(), tmp_path / "w.pt")
    evaluate[evaluate.index("--model.classification.pretrained") + 1] = str(tmp_path / "w.pt")
    data = write_small_digits(tmp_path / "digits", per_class_train=1, per_class_val=2)
    evaluate += ["--common.results-loc", str(tmp_path / "results"), "--dataset.root-val", str(data / "validation"),
                 "--dataset.workers", "0", *NO_TRAINING_SET]
    metrics = tmp_path / "results" / "demo" / "eval_metrics.json"
    for _ in range(2):
        for command in (prepare, evaluate):
            result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, result.stderr[-3000:]
        assert len(list((tmp_path / "generated").rglob("*.png"))) == 1797
        assert json.loads(metrics.read_text())["num_samples"] == 20
        metrics.write_text("the first evaluation")
