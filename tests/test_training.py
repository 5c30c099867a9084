"""End-to-end training: the loss falls, checkpoints are written, runs resume, DDP stays in step."""
import json
import os
import re
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, training_opts
from engine.training import train
from helpers_training import fast_args, tiny_args, write_small_digits
from utils.weight_files import read_checkpoint

CHECKPOINTS = ["checkpoint.pt", "checkpoint_last.pt", "checkpoint_best.pt", "checkpoint_ema.pt",
               "checkpoint_ema_best.pt", "checkpoint_avg.pt", "checkpoint_ema_avg.pt", "config.yaml",
               "metrics.jsonl"]


@pytest.fixture(scope="module")
def small_digits(tmp_path_factory):
    return write_small_digits(tmp_path_factory.mktemp("small_digits"), per_class_train=30, per_class_val=10)


def test_training_loss_falls_and_checkpoints_are_written(small_digits, tmp_path):
    exp = train(training_opts(fast_args(small_digits, tmp_path, epochs=4)))
    for name in CHECKPOINTS:
        assert (exp / name).is_file(), name
    history = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [0, 1, 2, 3]
    assert history[-1]["train"]["loss"] < history[0]["train"]["loss"] - 0.3
    assert history[-1]["train"]["top1"] > 30.0  # chance is 10
    assert set(history[-1]["val"]) == set(history[-1]["val_ema"]) == {"loss", "top1", "top5"}
    checkpoint = read_checkpoint(exp / "checkpoint.pt")
    assert checkpoint["epoch"] == 3 and checkpoint["iterations"] == 4 * 12
    assert not any(k.startswith("module.") for k in checkpoint["model_state_dict"])
    assert (exp / "tb_logs").is_dir()


def test_finetune_reports_skipped_keys(small_digits, tmp_path, capsys):
    first = train(training_opts(fast_args(small_digits, tmp_path / "a", epochs=1)))
    train(training_opts(fast_args(small_digits, tmp_path / "b", epochs=1, extra=[
        "--common.finetune", str(first / "checkpoint_last.pt"), "--model.classification.n-classes", "12"])))
    out = capsys.readouterr().out
    assert "common.finetune: loaded" in out and "skipped 2 keys: classifier.fc.bias, classifier.fc.weight" in out


def test_too_few_model_classes_is_reported(small_digits, tmp_path):
    from utils.errors import ConfigError

    with pytest.raises(ConfigError, match=r"model.classification.n_classes \(7\) is smaller than the 10 classes"):
        train(training_opts(fast_args(small_digits, tmp_path, epochs=1, extra=["--model.classification.n-classes",
                                                                              "7"])))


def test_non_finite_loss_stops_with_a_message(small_digits, tmp_path):
    from utils.errors import TrainingError

    args = fast_args(small_digits, tmp_path, epochs=1, extra=["--scheduler.cosine.max-lr", "1e30",
                                                               "--scheduler.warmup-iterations", "0"])
    with pytest.raises(TrainingError, match="the training loss became (nan|inf)"):
        train(training_opts(args))


def run(args, **kwargs):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600, **kwargs)


def test_torchrun_two_processes_see_disjoint_data_and_agree(small_digits, tmp_path):
    out = tmp_path / "ranks"
    args = fast_args(small_digits, tmp_path, epochs=1, extra=["--sampler.name", "variable_batch_sampler",
                                                              "--sampler.vbs.crop-size-width", "32",
                                                              "--sampler.vbs.crop-size-height", "32",
                                                              "--sampler.vbs.min-crop-size-width", "24",
                                                              "--sampler.vbs.min-crop-size-height", "24",
                                                              "--sampler.vbs.max-crop-size-width", "40",
                                                              "--sampler.vbs.max-crop-size-height", "40",
                                                              "--sampler.vbs.check-scale", "8"])
    env = dict(os.environ, OMP_NUM_THREADS="1", DDP_CHECK_OUT=str(out))
    result = run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "tests/ddp_check.py",
                  *args], env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    seen = [set(r["seen"]) for r in ranks]
    assert seen[0] and seen[1] and not (seen[0] & seen[1])
    assert seen[0] | seen[1] == set(range(300))
    assert ranks[0]["sizes"] == ranks[1]["sizes"]  # the same resolution at every step
    for key, value in ranks[0]["params"].items():
        assert torch.equal(value, ranks[1]["params"][key]), key
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


def test_a_log_of_stdout_and_stderr_has_the_results_on_lines_of_their_own(tmp_path):
    """main_train.py with both streams in one file, as a batch job logs it: the progress bars are
    whole lines and no result line shares its line with a bar."""
    data = write_small_digits(tmp_path / "data", per_class_train=6, per_class_val=2)
    log = tmp_path / "job.log"
    with open(log, "w") as handle:
        done = subprocess.run([sys.executable, "main_train.py", *tiny_args(data, tmp_path / "results", "log")],
                              cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, timeout=600)
    text = log.read_text()
    assert done.returncode == 0, text[-2000:]
    assert "\r" not in text
    lines = text.splitlines()
    results = [line for line in lines if re.search(r"epoch \d validation", line)]
    assert len(results) == 4  # the model's and the EMA's, two epochs
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - INFO +- epoch \d validation( \(EMA\))?: .*", line)
               and "%|" not in line for line in results)
    bars = [line for line in lines if "%|" in line]
    assert any(line.startswith("epoch 1:") for line in bars) and not any(" - INFO " in line for line in bars)
    run = tmp_path / "results" / "log"
    listed = lines[lines.index("files written:") + 1:]
    assert listed == [f"  {path}" for path in sorted(run.glob("checkpoint*.pt")) + [
        run / "classes.json", run / "config.yaml", run / "curves.png", run / "metrics.jsonl", run / "tb_logs",
        run / "train.log"]]  # at the end, every output of the run
