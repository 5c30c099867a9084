import math

import pytest
import torch
from torch import nn

from cvnets import EMA
from engine.epoch_checkpoints import EpochCheckpoints, average_state_dicts
from engine.run_folder import RunFolder
from utils.errors import CheckpointError
from utils.io import atomic_save
from utils.weight_files import load_weights, read_checkpoint, state_dict_from


def test_ema_follows_the_reference_momentum():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = EMA(model, momentum=0.1)
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[1].running_mean.fill_(2.0)
        model[1].num_batches_tracked.fill_(7)
    start = ema.ema_model[0].weight.clone()
    ema.update(model)
    assert torch.allclose(ema.ema_model[0].weight, 0.9 * start + 0.1)  # (1 - m) * ema + m * model
    assert torch.allclose(ema.ema_model[1].running_mean, torch.full((2,), 0.2))
    assert int(ema.ema_model[1].num_batches_tracked) == 7
    assert not any(p.requires_grad for p in ema.ema_model.parameters())


def test_ema_updates_shared_weights_once():
    shared = nn.Linear(2, 2, bias=False)
    model = nn.Module()
    model.a, model.b = shared, shared  # two names, one weight (as ParC-Net's `residual`)
    ema = EMA(model, momentum=0.5)
    with torch.no_grad():
        start = ema.ema_model.a.weight.clone()
        shared.weight.add_(2.0)
    ema.update(model)
    assert torch.allclose(ema.ema_model.a.weight, start + 1.0)
    assert ema.ema_model.a is ema.ema_model.b


def test_average_state_dicts():
    states = [{"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}, {"w": torch.tensor([3.0, 6.0]),
                                                                      "n": torch.tensor(4)}]
    averaged = average_state_dicts(states)
    assert torch.equal(averaged["w"], torch.tensor([2.0, 4.0])) and averaged["n"].dtype == torch.int64


def save(manager, epoch, value, score, best, ema_value=None, ema_score=None):
    state = {"w": torch.tensor([float(value)])}
    ema = None if ema_value is None else {"w": torch.tensor([float(ema_value)])}
    checkpoint = {"epoch": epoch, "iterations": 10 * (epoch + 1), "model_state_dict": state, "optim_state_dict": {},
                  "gradient_scalar_state_dict": {}, "best_metric": best}
    if ema is not None:
        checkpoint.update(ema_state_dict=ema, ema_best_metric=ema_score)
    manager.save_epoch(checkpoint, score=score, is_best=score >= best, ema_score=ema_score, is_ema_best=False)


def test_k_best_keeps_each_epoch_under_its_own_score(tmp_path):
    manager = EpochCheckpoints(RunFolder(tmp_path), k_best=2, higher_is_better=True)
    scores = [50.0, 70.0, 60.0, 40.0]
    best = -math.inf
    for epoch, score in enumerate(scores):
        best = max(best, score)
        save(manager, epoch, value=epoch, score=score, best=best, ema_value=10 + epoch, ema_score=score + 1)
    kept = sorted(p.name for p in tmp_path.glob("checkpoint_epoch_*"))
    assert kept == ["checkpoint_epoch_1_score_70.0000.pt", "checkpoint_epoch_2_score_60.0000.pt"]
    assert torch.equal(read_checkpoint(tmp_path / "checkpoint_avg.pt")["w"], torch.tensor([1.5]))
    assert torch.equal(read_checkpoint(tmp_path / "checkpoint_ema_avg.pt")["w"], torch.tensor([11.5]))
    resume = read_checkpoint(tmp_path / "checkpoint.pt")
    assert resume["epoch"] == 3 and resume["best_metric"] == 70.0 and "ema_state_dict" in resume
    assert torch.equal(read_checkpoint(tmp_path / "checkpoint_best.pt")["w"], torch.tensor([1.0]))
    assert torch.equal(read_checkpoint(tmp_path / "checkpoint_last.pt")["w"], torch.tensor([3.0]))


def test_k_best_for_a_metric_to_minimise(tmp_path):
    manager = EpochCheckpoints(RunFolder(tmp_path), k_best=1, higher_is_better=False)
    for epoch, score in enumerate([0.9, 0.3, 0.5]):
        save(manager, epoch, value=epoch, score=score, best=0.3)
    assert [p.name for p in tmp_path.glob("checkpoint_epoch_*")] == ["checkpoint_epoch_1_score_0.3000.pt"]


def test_load_weights_accepts_released_files_checkpoints_and_ddp_prefixes(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2))
    state = {k: torch.randn_like(v) for k, v in model.state_dict().items()}
    atomic_save(state, tmp_path / "plain.pt")
    atomic_save({"epoch": 0, "model_state_dict": state}, tmp_path / "checkpoint.pt")
    atomic_save({f"module.{k}": v for k, v in state.items()}, tmp_path / "ddp.pt")
    for name in ("plain.pt", "checkpoint.pt", "ddp.pt"):
        fresh = nn.Sequential(nn.Linear(3, 2))
        load_weights(fresh, tmp_path / name)
        assert torch.equal(fresh[0].weight, state["0.weight"])


def test_load_weights_reports_mismatching_keys(tmp_path):
    atomic_save({"0.weight": torch.zeros(5, 3), "extra": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"missing keys: 0.bias; unexpected keys: extra; shape mismatches: "
                                              r"0.weight \(checkpoint \(5, 3\), model \(2, 3\)\)"):
        load_weights(nn.Sequential(nn.Linear(3, 2)), tmp_path / "other.pt")


def test_unreadable_or_remote_checkpoints(tmp_path):
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint .*broken.pt"):
        read_checkpoint(tmp_path / "broken.pt")
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "absent.pt")
    with pytest.raises(CheckpointError, match="must be a local file, not a URL"):
        read_checkpoint("https://example.com/model.pt")
    with pytest.raises(CheckpointError, match="holds no model weights"):
        state_dict_from({"epoch": 3})


def test_atomic_save_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "checkpoint.pt"
    atomic_save({"a": torch.ones(1)}, target)

    def failing_save(obj, handle):
        handle.write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(RuntimeError):
        atomic_save({"a": torch.zeros(1)}, target)
    monkeypatch.undo()
    assert torch.equal(read_checkpoint(target)["a"], torch.ones(1))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
