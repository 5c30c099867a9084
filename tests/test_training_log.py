"""What train.log tells while a run goes: where each epoch's time went, a progress line at least
every 30 seconds whatever ``common.log_freq`` says, and a warning on a machine busier than its cores."""
from __future__ import annotations

import os
import re

import pytest

from conftest import training_opts
from engine.training import train
from helpers_training import tiny_args, write_small_digits

NUMBER = r"(\d+\.\d+)"


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return write_small_digits(tmp_path_factory.mktemp("digits"), per_class_train=6, per_class_val=2, size=24)


@pytest.fixture(scope="module")
def busy_run(digits, tmp_path_factory):
    """One epoch logged every 1000 steps, on a machine whose load average is twice its cores, with
    the progress interval shortened to nothing (every step and every validation batch then logs)."""
    patch = pytest.MonkeyPatch()
    patch.setattr(os, "getloadavg", lambda: (2.0 * (os.cpu_count() or 1), 0.0, 0.0))
    patch.setattr("engine.progress.PROGRESS_SECONDS", 0.0)
    try:
        run = train(training_opts(tiny_args(digits, tmp_path_factory.mktemp("results"), "run", epochs=1,
                                            extra=["--common.log-freq", "1000"])))
    finally:
        patch.undo()
    return (run / "train.log").read_text()


def test_each_epoch_logs_where_its_time_went(busy_run):
    line = re.search(rf"epoch 0 time: training {NUMBER} s = model steps {NUMBER} s \(forward and loss {NUMBER}, "
                     rf"backward {NUMBER}, optimizer {NUMBER}\) \+ waiting for data {NUMBER} \+ inputs {NUMBER} \+ "
                     rf"EMA {NUMBER} \+ metrics {NUMBER} \+ logging {NUMBER} \+ checkpoint {NUMBER} \+ other "
                     rf"(-?\d+\.\d+); training / model steps {NUMBER}; then validation {NUMBER} s, checkpoints "
                     rf"{NUMBER} s", busy_run)
    assert line, busy_run
    values = [float(v) for v in line.groups()]
    training, model, forward, backward, optimizer = values[:5]
    rest, other, ratio, validation, checkpoints = values[5:11], values[11], values[12], values[13], values[14]
    assert forward > 0 and backward > 0 and optimizer > 0 and validation > 0 and checkpoints > 0
    assert model == pytest.approx(forward + backward + optimizer, abs=0.02)
    assert training == pytest.approx(model + sum(rest) + other, abs=0.06)
    assert 0 <= other and ratio == pytest.approx(training / model, rel=0.02)


def test_progress_lines_come_by_time_whatever_log_freq_says(busy_run):
    steps = re.findall(r"epoch 0 \[(\d+)/(\d+)\]", busy_run)
    assert [int(step) for step, _ in steps] == list(range(1, int(steps[0][1]) + 1))  # every step: the time is up
    assert re.search(r"validation 0: batch 1 of 1, 0 images, elapsed", busy_run)


def test_a_machine_busier_than_its_cores_is_reported_once(busy_run):
    assert busy_run.count("exceeds its") == 1
    assert f"the load average of this machine ({2.0 * (os.cpu_count() or 1):.1f}) exceeds its" in busy_run
