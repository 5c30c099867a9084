"""Launching at scale: the plain command starts one worker per device like torchrun, multi-node keys,
exact resumption after SIGKILL and SIGTERM, and a dead or stalled worker ending the run."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT, training_opts
from helpers_training import max_weight_difference, tiny_args, wait_for_line, write_small_digits

ENV = dict(os.environ, OMP_NUM_THREADS="1")


@pytest.fixture(scope="module")
def tiny_digits(tmp_path_factory):
    return write_small_digits(tmp_path_factory.mktemp("tiny_digits"), per_class_train=6, per_class_val=2, size=24)


def start(args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def worker_pids(launcher: int) -> list:
    """The training processes the launcher ``launcher`` started (spawned interpreters)."""
    children = subprocess.run(["pgrep", "-P", str(launcher)], capture_output=True, text=True).stdout.split()
    workers = []
    for pid in children:
        try:
            command = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ")
        except OSError:
            continue
        if b"spawn_main" in command:
            workers.append(int(pid))
    return workers


def run(args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def uninterrupted(tiny_digits, tmp_path_factory):
    """A single-process run of two epochs with one loading process (the reference end state)."""
    results = tmp_path_factory.mktemp("reference")
    result = run(["main_train.py", *tiny_args(tiny_digits, results, "whole", extra=["--dataset.workers", "1"])])
    assert result.returncode == 0, result.stderr[-3000:]
    return results / "whole"


@pytest.fixture(scope="module")
def two_workers(tiny_digits, tmp_path_factory):
    """``python main_train.py --common.device cpu --ddp.world-size 2``."""
    results = tmp_path_factory.mktemp("plain_launch")
    result = run(["main_train.py", *tiny_args(tiny_digits, results, "plain", extra=["--ddp.world-size", "2"])])
    assert result.returncode == 0, result.stderr[-3000:]
    return results / "plain", result


def test_plain_launch_starts_two_workers_and_ends_like_torchrun(tiny_digits, tmp_path, two_workers):
    plain, result = two_workers
    assert "Starting 2 training processes on this node" in result.stdout
    torchrun = run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "main_train.py",
                    *tiny_args(tiny_digits, tmp_path, "torchrun")])
    assert torchrun.returncode == 0, torchrun.stderr[-3000:]
    for name in ("checkpoint_last.pt", "checkpoint_ema.pt"):
        assert max_weight_difference(plain / name, tmp_path / "torchrun" / name) <= 1e-6


def test_train_log_starts_with_world_size_and_global_batch(two_workers):
    plain, _ = two_workers
    first = (plain / "train.log").read_text().splitlines()[0]
    assert "world size 2, backend gloo" in first and "global batch size 20" in first
    assert "batch size 10 per process" in first and "learning rate 0.003" in first


def test_two_nodes_of_one_worker_on_localhost_match_one_node_of_two(tiny_digits, tmp_path, two_workers):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    nodes = [start(["main_train.py", *tiny_args(tiny_digits, tmp_path / f"node{rank}", "run", extra=[
        "--ddp.world-size", "2", "--ddp.rank", str(rank), "--ddp.dist-url", f"tcp://127.0.0.1:{port}"])])
        for rank in (0, 1)]
    for node in nodes:
        _, stderr = node.communicate(timeout=600)
        assert node.returncode == 0, stderr[-3000:]
    assert "world size 2" in (tmp_path / "node0" / "run" / "train.log").read_text().splitlines()[0]
    plain, _ = two_workers
    assert max_weight_difference(tmp_path / "node0" / "run" / "checkpoint_last.pt",
                                 plain / "checkpoint_last.pt") <= 1e-6


def interrupt_in_the_second_epoch(tiny_digits, tmp_path, signum: int):
    """Start a run of two epochs, send ``signum`` once the second epoch has taken a step, and return
    the finished process (its stderr read), the run's arguments and its folder."""
    args = tiny_args(tiny_digits, tmp_path, "run", extra=["--dataset.workers", "1"])
    process = start(["main_train.py", *args])
    wait_for_line(tmp_path / "run" / "train.log", "epoch 1 [2/", process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=300)
    return process, stderr, args


def assert_resumes_to(args, folder, uninterrupted):
    """Resume the run with ``--common.auto-resume``: it ends with the uninterrupted run's weights
    and metrics."""
    resumed = run(["main_train.py", *args, "--common.auto-resume"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for name in ("checkpoint_last.pt", "checkpoint_ema.pt", "checkpoint_ema_avg.pt"):
        assert max_weight_difference(folder / name, uninterrupted / name) <= 1e-6
    assert (folder / "metrics.jsonl").read_text() == (uninterrupted / "metrics.jsonl").read_text()


def test_sigkill_in_the_second_epoch_then_auto_resume_ends_as_the_uninterrupted_run(tiny_digits, tmp_path,
                                                                                    uninterrupted):
    _, _, args = interrupt_in_the_second_epoch(tiny_digits, tmp_path, signal.SIGKILL)
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["epoch"] == 0
    assert_resumes_to(args, tmp_path / "run", uninterrupted)


def test_sigterm_saves_inside_the_epoch_and_the_resumed_run_ends_as_the_uninterrupted_one(tiny_digits, tmp_path,
                                                                                          uninterrupted):
    process, stderr, args = interrupt_in_the_second_epoch(tiny_digits, tmp_path, signal.SIGTERM)
    assert process.returncode == 128 + signal.SIGTERM
    message = stderr.strip().splitlines()[-1]
    assert message.startswith("training stopped by SIGTERM at epoch 1, step") and "--common.auto-resume" in message
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 0 and checkpoint["resume_step"] >= 2
    assert_resumes_to(args, tmp_path / "run", uninterrupted)


def signal_one_of_two_workers(tiny_digits, tmp_path, signum: int, timeout_s: int, wait_s: int) -> float:
    """Start a two-process run, send ``signum`` to one worker once training runs, and return how
    long the launcher took to end after it (asserting that it ended with a non-zero status)."""
    args = tiny_args(tiny_digits, tmp_path, "run", epochs=50, extra=["--ddp.world-size", "2", "--ddp.timeout",
                                                                       str(timeout_s)])
    process = start(["main_train.py", *args])
    wait_for_line(tmp_path / "run" / "train.log", "epoch 0 [2/", process)
    workers = worker_pids(process.pid)
    assert len(workers) == 2
    sent = time.time()
    os.kill(workers[-1], signum)
    try:
        _, stderr = process.communicate(timeout=wait_s)
    finally:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert process.returncode not in (0, None)
    assert "training processes failed" in stderr
    return time.time() - sent


def test_a_killed_worker_ends_the_run_with_a_non_zero_status(tiny_digits, tmp_path):
    assert signal_one_of_two_workers(tiny_digits, tmp_path, signal.SIGKILL, timeout_s=20, wait_s=120) < 60


@pytest.mark.slow
def test_a_stalled_worker_ends_the_run_after_the_process_group_timeout(tiny_digits, tmp_path):
    # the other worker fails at its next collective after 10 s; the stopped one is killed when the
    # launcher's grace period for saving ends
    assert signal_one_of_two_workers(tiny_digits, tmp_path, signal.SIGSTOP, timeout_s=10, wait_s=300) < 200


@pytest.mark.parametrize("extra, message", [
    (["--ddp.world-size", "4", "--ddp.dist-url", "tcp://127.0.0.1:1234", "--ddp.rank", "4"],
     "ddp.rank 4 must name one of the 4 nodes"),
    (["--ddp.world-size", "2", "--ddp.dist-url", "http://x"], "ddp.dist_url must look like tcp://HOST:PORT"),
])
def test_impossible_multi_node_settings_are_one_line_errors(extra, message):
    from engine.launch import launch_plan
    from utils.errors import ConfigError

    opts = training_opts(["--common.device", "cpu", *extra])
    with pytest.raises(ConfigError, match=message):
        launch_plan(opts, extra)


def test_a_cuda_world_size_that_spans_nodes_without_an_address_shows_the_torchrun_command(monkeypatch):
    from engine import launch
    from utils.errors import ConfigError

    monkeypatch.setattr(launch.torch.cuda, "device_count", lambda: 8)
    opts = training_opts(["--common.device", "cuda", "--ddp.world-size", "16"])
    with pytest.raises(ConfigError, match=r"torchrun --nnodes 2 --nproc-per-node 8 --node-rank RANK"):
        launch.launch_plan(opts, ["--ddp.world-size", "16"])
    plan = launch.launch_plan(training_opts(["--common.device", "cuda"]), [])
    assert plan.nproc_per_node == 8 and plan.nnodes == 1
    assert launch.launch_plan(training_opts(["--common.device", "cuda", "--ddp.enable", "false"]), []).world_size == 1


def test_sigterm_ends_a_process_that_trains_in_process_as_if_it_did_not_train(tiny_digits, tmp_path):
    """A test, a notebook: ``engine.training.train`` called from other Python code leaves SIGTERM
    to that program (here the default action: the process ends at once, without a checkpoint)."""
    args = tiny_args(tiny_digits, tmp_path, "run", epochs=50)
    code = ("import sys; from options import get_training_arguments; from engine.training import train; "
            "train(get_training_arguments(sys.argv[1:]))")
    process = start(["-c", code, *args])
    try:
        wait_for_line(tmp_path / "run" / "train.log", "epoch 0 [2/", process)
        os.kill(process.pid, signal.SIGTERM)
        process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGTERM
    assert not (tmp_path / "run" / "checkpoint.pt").exists()  # no epoch ended, no stop was saved


def test_a_finished_worker_ends_with_its_status_and_output_without_the_interpreter_teardown():
    # the teardown is where a communication thread can abort a worker whose run completed
    program = ("import atexit, sys\n"
               "from utils.entry import end_worker\n"
               "atexit.register(lambda: print('teardown ran'))\n"
               "print('written', end='')\n"
               "sys.stderr.write('said')\n"
               "end_worker(3)\n")
    result = run(["-c", program])
    assert (result.returncode, result.stdout, result.stderr) == (3, "written", "said")
