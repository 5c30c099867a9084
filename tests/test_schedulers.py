import math

import pytest
import torch

from conftest import training_opts
from cvnets.models.base import BaseModel
from optim import build_optimizer, build_scheduler
from utils.errors import ConfigError

COSINE = ["--scheduler.name", "cosine", "--scheduler.max-epochs", "10", "--scheduler.warmup-iterations", "100",
          "--scheduler.warmup-init-lr", "0.0004", "--scheduler.cosine.max-lr", "0.004",
          "--scheduler.cosine.min-lr", "0.0004"]


class Layers(BaseModel):
    """A model of the given layers (the optimizer takes registered models)."""

    def __init__(self, *layers: torch.nn.Module) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(*layers)


def test_cosine_epoch_based_with_warmup():
    sched = build_scheduler(training_opts(COSINE))
    assert sched.get_lr(0, 0) == pytest.approx(0.0004)
    assert sched.get_lr(0, 50) == pytest.approx(0.0004 + 50 * 0.0036 / 100)  # linear warm-up
    assert sched.get_lr(0, 100) == pytest.approx(0.004)  # epoch 0: cos(0)
    assert sched.get_lr(5, 1000) == pytest.approx(0.0004 + 0.5 * 0.0036 * (1 + math.cos(math.pi * 5 / 10)))
    assert sched.get_lr(9, 9000) == pytest.approx(0.0004 + 0.5 * 0.0036 * (1 + math.cos(math.pi * 9 / 10)))


def test_cosine_iteration_based():
    sched = build_scheduler(training_opts(COSINE + ["--scheduler.is-iteration-based", "--scheduler.max-iterations",
                                                    "1100"]))
    # period = 1100 - 100 + 1 = 1001 iterations after the warm-up
    assert sched.get_lr(3, 600) == pytest.approx(0.0004 + 0.5 * 0.0036 * (1 + math.cos(math.pi * 500 / 1001)))


def test_polynomial():
    sched = build_scheduler(training_opts(["--scheduler.name", "polynomial", "--scheduler.max-epochs", "20",
                                           "--scheduler.polynomial.start-lr", "0.1", "--scheduler.polynomial.end-lr",
                                           "0.001", "--scheduler.polynomial.power", "0.9"]))
    assert sched.get_lr(5, 123) == pytest.approx(0.099 * (1 - 5 / 20) ** 0.9 + 0.001)


def test_fixed_after_warmup():
    sched = build_scheduler(training_opts(["--scheduler.name", "fixed", "--scheduler.max-epochs", "3",
                                           "--scheduler.fixed.lr", "0.02", "--scheduler.warmup-iterations", "10",
                                           "--scheduler.warmup-init-lr", "0.0"]))
    assert sched.get_lr(0, 5) == pytest.approx(0.01) and sched.get_lr(2, 500) == pytest.approx(0.02)


def test_cyclic():
    sched = build_scheduler(training_opts(["--scheduler.name", "cyclic", "--scheduler.max-epochs", "20",
                                           "--scheduler.cyclic.min-lr", "0.1", "--scheduler.cyclic.epochs-per-cycle",
                                           "5", "--scheduler.cyclic.total-cycles", "3",
                                           "--scheduler.cyclic.last-cycle-end-lr", "0.001",
                                           "--scheduler.cyclic.steps", "5", "--scheduler.cyclic.gamma", "0.5"]))
    # cycle rates: linspace(0.5, 0.1, 5) rotated so that each cycle starts at its lowest rate
    assert [round(sched.get_lr(e, 0), 6) for e in range(5)] == [0.1, 0.5, 0.4, 0.3, 0.2]
    # from epoch 5 both ends are halved
    assert [round(sched.get_lr(e, 0), 6) for e in range(5, 10)] == [0.05, 0.25, 0.2, 0.15, 0.1]
    # last cycle (epochs 10..19): linear from 0.05 towards 0.001
    assert sched.get_lr(12, 0) == pytest.approx(0.05 - 3 * (0.05 - 0.001) / 10)


def test_group_multipliers_and_rounding():
    model = Layers(torch.nn.Linear(2, 2))
    opts = training_opts(COSINE + ["--optim.name", "sgd"])
    optimizer = build_optimizer(model, opts)
    optimizer.param_groups[0]["lr_multiplier"] = 10.0
    lr = build_scheduler(opts).update_lr(optimizer, 0, 50)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(round(lr * 10, 8))


def test_no_decay_bn_filter_bias_groups():
    model = Layers(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    opts = training_opts(["--optim.name", "adamw", "--optim.weight-decay", "0.05", "--optim.no-decay-bn-filter-bias"])
    groups = build_optimizer(model, opts).param_groups
    assert [(len(g["params"]), g["weight_decay"]) for g in groups] == [(1, 0.05), (3, 0.0)]


def test_missing_epochs_is_reported():
    with pytest.raises(ConfigError, match="scheduler.max_epochs must be at least 1, got None"):
        build_scheduler(training_opts(["--scheduler.name", "cosine"]))


@pytest.mark.parametrize("name, extra", [("sgd", ["--optim.sgd.nesterov"]), ("adam", ["--optim.adam.amsgrad"]),
                                         ("adamw", [])])
def test_optimizers_are_fused_with_the_loops_numbers_and_state_dict(name, extra):
    torch.manual_seed(0)
    opts = training_opts(["--optim.name", name, "--optim.weight-decay", "0.01", "--optim.no-decay-bn-filter-bias",
                          *extra])
    # (no bias before the batch norm: its gradient would be rounding noise, which Adam turns into steps of lr)
    models = [Layers(torch.nn.Conv2d(3, 4, 3, bias=False), torch.nn.BatchNorm2d(4)) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    fused = build_optimizer(models[0], opts)
    assert [group["fused"] for group in fused.param_groups] == [True, True]
    twin = dict(zip(models[0].parameters(), models[1].parameters()))
    loop = type(fused)([dict(group, params=[twin[p] for p in group["params"]], fused=None)
                        for group in fused.param_groups])  # the same settings, the loop over the parameters
    for optimizer in (fused, loop):
        for group in optimizer.param_groups:
            group["lr"] = 0.01
    for _ in range(4):
        x = torch.randn(2, 3, 8, 8)
        for model, optimizer in zip(models, (fused, loop)):
            optimizer.zero_grad()
            model.layers(x).square().mean().backward()
            optimizer.step()
    for ours, theirs in zip(models[0].parameters(), models[1].parameters()):
        # rounding only (Adam's division by the root of a small second moment magnifies it): 1e-4 of a step
        assert torch.allclose(ours, theirs, rtol=0, atol=1e-6)
    saved, expected = fused.state_dict(), loop.state_dict()
    assert saved["param_groups"] == expected["param_groups"]  # fused: None, as the loop saves it
    assert {k: sorted(v) for k, v in saved["state"].items()} == {k: sorted(v) for k, v in expected["state"].items()}
    fused.load_state_dict(expected)  # a state saved by the loop keeps the fused implementation
    assert [group["fused"] for group in fused.param_groups] == [True, True]
    fused.step()


def test_a_fused_step_tells_autograd_that_the_parameters_changed():
    """Caches of values derived from parameters (ParC's instance kernels) key on their versions."""
    model = Layers(torch.nn.Linear(3, 2))
    optimizer = build_optimizer(model, training_opts(["--optim.name", "adamw"]))
    assert optimizer.param_groups[0]["fused"]
    model.layers(torch.randn(4, 3)).sum().backward()
    versions = [p._version for p in model.parameters()]
    optimizer.step()
    assert all(p._version > v for p, v in zip(model.parameters(), versions))
