"""A run folder belongs to one run: faults around a run's life, injected through the command line
as a user meets them. Each ends with one line and a known exit status, and no earlier run loses a
file."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT
from helpers_training import tiny_args, wait_for_line, write_small_digits

ENV = dict(os.environ, OMP_NUM_THREADS="1")
PYTHON = os.path.basename(sys.executable)


@pytest.fixture(scope="module")
def tiny_digits(tmp_path_factory):
    return write_small_digits(tmp_path_factory.mktemp("tiny_digits"), per_class_train=6, per_class_val=2, size=24)


@pytest.fixture(scope="module")
def finished_run(tiny_digits, tmp_path_factory):
    """A finished run of one epoch, trained through the command line; returns its arguments and folder."""
    args = tiny_args(tiny_digits, tmp_path_factory.mktemp("finished"), "run", epochs=1)
    result = run_cli(args)
    assert result.returncode == 0, result.stderr[-3000:]
    return args, Path(args[args.index("--common.results-loc") + 1]) / "run"


def start(args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "main_train.py", *args], cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def run_cli(args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main_train.py", *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def children(pid: int) -> list:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.communicate()


# a. a run folder belongs to one run at a time

def test_two_identical_commands_started_together_train_one_run(tiny_digits, tmp_path):
    args = tiny_args(tiny_digits, tmp_path, "run", epochs=2)
    first, second = start(args), start(args)
    outcomes = [(p.returncode, out, err) for p in (first, second) for out, err in [p.communicate(timeout=600)]]
    assert sorted(code for code, _, _ in outcomes) == [0, 2], [err[-2000:] for _, _, err in outcomes]
    refused = next(err for code, _, err in outcomes if code == 2)
    line = last_line(refused)
    assert line.startswith("error: ") and "Traceback" not in refused
    assert "is in use by another run" in line or "holds the results of an earlier run" in line
    folder = tmp_path / "run"
    assert (folder / "train.log").read_text().count("Run: world size") == 1  # one run wrote the log
    assert len(list((folder / "tb_logs").iterdir())) == 1
    assert len((folder / "metrics.jsonl").read_text().splitlines()) == 2
    assert not (folder / ".run.lock").exists()


def test_a_second_run_is_refused_naming_the_holder_and_a_killed_holders_lock_is_taken_over(tiny_digits, tmp_path):
    args = tiny_args(tiny_digits, tmp_path, "run", epochs=50)
    holder = start(args)
    try:
        wait_for_line(tmp_path / "run" / "train.log", "epoch 0 [2/", holder)
        before = {p.name for p in (tmp_path / "run").iterdir()}
        second = run_cli(args)
        assert second.returncode == 2 and "Traceback" not in second.stderr
        line = last_line(second.stderr)
        assert line.startswith(f"error: {tmp_path / 'run'} is in use by another run (pid {holder.pid} on "
                               f"{socket.gethostname()}, started ")
        assert f"command: {PYTHON} main_train.py {' '.join(args)}" in line and "--common.run-label" in line
        assert before <= {p.name for p in (tmp_path / "run").iterdir()}  # the refused run removed nothing
    finally:
        holder.kill()
        holder.communicate()
    assert str(holder.pid) in (tmp_path / "run" / ".run.lock").read_text()  # SIGKILL left the lock file
    saved = tmp_path / "run" / "checkpoint.pt"
    done = torch.load(saved, weights_only=True)["epoch"] + 1 if saved.is_file() else 0
    resumed = run_cli([*args, "--scheduler.max-epochs", str(done + 1), "--common.auto-resume"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Took over the lock of a run that ended without releasing it (pid {holder.pid}" in resumed.stdout
    assert not (tmp_path / "run" / ".run.lock").exists()


def test_the_launcher_holds_one_lock_for_its_workers_and_they_end_with_it(tiny_digits, tmp_path):
    args = tiny_args(tiny_digits, tmp_path, "run", epochs=50, extra=["--ddp.world-size", "2"])
    launcher = start(args)
    try:
        wait_for_line(tmp_path / "run" / "train.log", "epoch 0 [2/", launcher)
        workers = children(launcher.pid)
        second = run_cli(args)
        assert second.returncode == 2
        assert f"is in use by another run (pid {launcher.pid} on" in last_line(second.stderr)
    finally:
        launcher.kill()
        launcher.communicate()
    deadline = time.time() + 30
    while any(alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.2)
    assert workers and not any(alive(pid) for pid in workers)


def test_the_launcher_refuses_another_runs_checkpoint_into_an_occupied_folder_before_starting_workers(
        finished_run, tmp_path):
    args, folder = finished_run
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "metrics.jsonl").write_text('{"epoch": 0}\n')
    result = run_cli([*args, "--common.results-loc", str(tmp_path), "--common.run-label", "occupied",
                      "--common.resume", str(folder / "checkpoint.pt"), "--scheduler.max-epochs", "2",
                      "--ddp.world-size", "2"])
    assert result.returncode == 2 and "Starting 2 training processes" not in result.stdout
    assert last_line(result.stderr).startswith(f"error: {occupied} holds the results of an earlier run (metrics.jsonl)")
    assert [p.name for p in occupied.iterdir()] == ["metrics.jsonl"]


def test_overwrite_removes_the_earlier_results_before_the_workers_start(finished_run, tmp_path):
    args, folder = finished_run
    earlier = tmp_path / "run"
    earlier.mkdir()
    (earlier / "checkpoint_epoch_7_score_1.0000.pt").write_bytes(b"stale")
    result = run_cli([*args, "--common.results-loc", str(tmp_path), "--ddp.world-size", "2", "--common.overwrite"])
    assert result.returncode == 0, result.stderr[-3000:]
    removed = result.stdout.index("--common.overwrite: removed the earlier run's results")
    assert removed < result.stdout.index("Starting 2 training processes")
    assert not (earlier / "checkpoint_epoch_7_score_1.0000.pt").exists() and (earlier / "checkpoint.pt").is_file()


# b. a run writes inside common.results_loc only

@pytest.mark.parametrize("label", ["../../escaped", "/tmp/absolute_run", "", ".", "a/../../b"])
def test_a_run_label_that_leaves_the_results_folder_is_refused(tiny_digits, tmp_path, label):
    results = tmp_path / "deep" / "results"
    (results / "other_run").mkdir(parents=True)
    (results / "other_run" / "metrics.jsonl").write_text('{"epoch": 0}\n')
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    args = tiny_args(tiny_digits, results, "run", epochs=1)
    args[args.index("--common.run-label") + 1] = label
    result = run_cli(args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert last_line(result.stderr) == (
        f"error: common.run_label {label!r} is refused: a run label names a folder inside common.results_loc: one "
        f"or more folder names joined by '/', none of them '.' or '..', not absolute, not empty")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before
    assert not Path("/tmp/absolute_run").exists()


# c. settings that cannot train are refused at start

@pytest.mark.parametrize("option, key", [("--scheduler.cosine.max-lr", "scheduler.cosine.max_lr"),
                                         ("--scheduler.warmup-init-lr", "scheduler.warmup_init_lr"),
                                         ("--optim.weight-decay", "optim.weight_decay")])
def test_a_negative_rate_is_refused_at_start_naming_its_key(tiny_digits, tmp_path, option, key):
    result = run_cli(tiny_args(tiny_digits, tmp_path, "run", extra=[option, "-0.1"]))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert last_line(result.stderr) == f"error: {key} must be a number >= 0, got -0.1"
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_resuming_a_complete_run_says_so_and_changes_nothing(finished_run):
    args, folder = finished_run
    before = snapshot(folder)
    result = run_cli([*args, "--common.auto-resume"])
    assert result.returncode == 0, result.stderr[-3000:]
    line = last_line(result.stdout)
    assert f"the run is already complete at epoch 1 of 1 ({folder / 'checkpoint.pt'})" in line
    assert line.endswith("to train it further, raise --scheduler.max-epochs above 1")
    assert snapshot(folder) == before


def test_a_checkpoint_past_max_epochs_resumed_into_a_new_folder_creates_nothing(finished_run, tmp_path):
    args, folder = finished_run
    checkpoint = torch.load(folder / "checkpoint.pt", weights_only=True)
    checkpoint["epoch"] = 50
    torch.save(checkpoint, tmp_path / "epoch50.pt")
    other = [*args, "--common.results-loc", str(tmp_path / "new"), "--common.resume", str(tmp_path / "epoch50.pt"),
             "--scheduler.max-epochs", "3", "--ddp.world-size", "2"]
    result = run_cli(other)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the run is already complete at epoch 51 of 3" in last_line(result.stdout)
    assert "raise --scheduler.max-epochs above 51" in last_line(result.stdout)
    assert "Starting 2 training processes" not in result.stdout  # decided before any worker started
    assert not (tmp_path / "new").exists()


# d. a data loading process that dies

@pytest.mark.parametrize("persistent", ["true", "false"])
def test_a_killed_data_loading_process_ends_the_run_in_seconds_with_one_line(tiny_digits, tmp_path, persistent):
    args = tiny_args(tiny_digits, tmp_path, "run", epochs=50, extra=["--dataset.workers", "2",
                                                                      "--dataset.persistent-workers", persistent])
    process = start(args)
    try:
        wait_for_line(tmp_path / "run" / "train.log", "epoch 1 [2/", process)
        saved = snapshot(tmp_path / "run")
        loader = children(process.pid)[0]
        killed = time.time()
        os.kill(loader, signal.SIGKILL)
        _, stderr = process.communicate(timeout=120)
        took = time.time() - killed
    finally:
        stop(process)
    assert took < 60 and process.returncode == 2 and "Traceback" not in stderr
    folder = tmp_path / "run"
    line = last_line(stderr)
    # torch names the signal when its SIGCHLD check sees the death first, else says the process exited
    died = f"data loading process (pid {loader}) " + ("was killed by SIGKILL" if "killed by" in line else
                                                        "exited unexpectedly")
    assert line.startswith(f"error: training stopped because the {died} at ")
    assert line.endswith(f"; {folder / 'checkpoint.pt'} holds the last saved state; continue with: {PYTHON} "
                         f"main_train.py {' '.join(args)} --common.auto-resume")
    assert f"Training stopped because the {died}" in (folder / "train.log").read_text()
    after = snapshot(folder)
    assert all(after.get(name) == data for name, data in saved.items() if name.endswith(".pt"))
    assert set(saved) - {".run.lock"} <= set(after)  # the lock was released, nothing else went
    assert not [pid for pid in children(process.pid) if alive(pid)]
