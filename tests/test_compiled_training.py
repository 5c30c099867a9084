"""``--common.compile``: the compiled training step computes the eager one's loss and gradients, a
variable-batch epoch compiles one graph per input shape (never hitting dynamo's recompile limit),
and compiled and eager runs resume each other's checkpoints, whose names carry no ``_orig_mod.``.

A tiny model stands in for the registry's (dynamo traces it in a second); the ``eager`` and
``aot_eager`` backends exercise dynamo and AOT autograd without inductor's C++ compiles."""
from __future__ import annotations

import re

import pytest
import torch
import torch._dynamo
from torch import nn
from torch._dynamo.utils import counters

from conftest import training_opts
from cvnets.models.base import BaseModel
from engine.compilation import GRAPHS, compile_model
from engine.loop_helpers import BatchInputs
from engine.training import train
from engine.training_step import TrainingStep
from helpers_training import max_weight_difference, tiny_args, write_small_digits
from utils.compile_settings import CompileSettings
from utils.runtime import Runtime


class TinyClassifier(BaseModel):
    """Convolution, batch norm, pooling, linear: BaseModel's hooks, traced by dynamo in a second."""

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.classifier = nn.Linear(8, n_classes)

    def forward(self, x):
        return self.classifier(self.stem(x).mean((2, 3)))


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return write_small_digits(tmp_path_factory.mktemp("digits"), per_class_train=6, per_class_val=2, size=24)


@pytest.fixture()
def fresh_dynamo():
    """Dynamo's caches and counters empty, the recompile limit a hard error."""
    torch._dynamo.reset()
    counters.clear()
    GRAPHS.shapes.clear()
    with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
        yield
    torch._dynamo.reset()


def test_a_compiled_training_step_gives_the_eager_loss_and_gradients(fresh_dynamo):
    opts = training_opts(["--common.config-file", "config/classification/demo/parcnet_digits.yaml"])
    torch.manual_seed(0)
    eager = TinyClassifier()
    compiled = TinyClassifier()
    compiled.load_state_dict(eager.state_dict())
    compile_model(compiled, CompileSettings(backend="aot_eager"))
    batch = {"image": torch.randint(0, 256, (6, 3, 20, 20), dtype=torch.uint8), "label": torch.arange(6)}
    results = []
    for model in (eager, compiled):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        runtime = Runtime(device=torch.device("cpu"))
        step = TrainingStep(model, nn.CrossEntropyLoss(), optimizer, runtime, BatchInputs(opts), grad_clip=1.0)
        step.optimizer_step = lambda: None  # keep the gradients to compare them
        _, _, loss, n = step(batch)
        results.append((loss, [p.grad.clone() for p in model.parameters()]))
    assert n == 6
    (eager_loss, eager_grads), (compiled_loss, compiled_grads) = results
    assert torch.allclose(compiled_loss, eager_loss, rtol=1e-5, atol=1e-6)
    for expected, got in zip(eager_grads, compiled_grads):
        assert torch.allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert counters["stats"]["unique_graphs"] == 1
    assert list(compiled.state_dict()) == list(eager.state_dict())  # no _orig_mod. prefix


def variable_batch_args(digits, results, label, epochs, compile_):
    """Three crop sizes (one batch size each) and an EMA: 3 training graphs, 2 evaluation graphs."""
    extra = ["--sampler.name", "variable_batch_sampler", "--sampler.vbs.crop-size-width", "24",
             "--sampler.vbs.crop-size-height", "24", "--sampler.vbs.min-crop-size-width", "16",
             "--sampler.vbs.max-crop-size-width", "32", "--sampler.vbs.min-crop-size-height", "16",
             "--sampler.vbs.max-crop-size-height", "32", "--sampler.vbs.check-scale", "8",
             "--sampler.vbs.max-n-scales", "3", "--common.auto-resume", "true"]
    if compile_:
        extra += ["--common.compile", "true", "--common.compile-backend", "eager"]
    return tiny_args(digits, results, label, epochs=epochs, extra=extra)


def graphs_in_log(run):
    """The number of graphs dynamo compiled, from the last summary in ``train.log``."""
    found = re.findall(r"torch\.compile: (\d+) graphs compiled by dynamo, for (\d+) input shapes",
                       (run / "train.log").read_text())
    assert found, "train.log has no torch.compile summary"
    return tuple(int(n) for n in found[-1])


def test_variable_batch_epochs_compile_one_graph_per_shape_and_resume_either_way(digits, tmp_path, monkeypatch,
                                                                                   fresh_dynamo):
    monkeypatch.setattr("engine.training.get_model", lambda opts: TinyClassifier())
    results = tmp_path / "results"
    compiled = train(training_opts(variable_batch_args(digits, results, "compiled", 2, compile_=True)))
    # 3 crop sizes in training (the sampler's pairs), 20 validation images in one batch, for the model and its EMA
    assert graphs_in_log(compiled) == (5, 5)
    assert counters["stats"]["unique_graphs"] == 5
    assert {shape[2:] for _, shape in GRAPHS.shapes["training"]} == {(16, 16), (24, 24), (32, 32)}
    checkpoint = torch.load(compiled / "checkpoint.pt", map_location="cpu", weights_only=True)
    for key in ("model_state_dict", "ema_state_dict"):
        assert checkpoint[key] and not [name for name in checkpoint[key] if "_orig_mod" in name]
    for name in ("checkpoint_last.pt", "checkpoint_ema_avg.pt"):
        assert not [k for k in torch.load(compiled / name, weights_only=True) if "_orig_mod" in k]

    eager = train(training_opts(variable_batch_args(digits, results, "eager", 2, compile_=False)))
    assert max_weight_difference(compiled / "checkpoint_last.pt", eager / "checkpoint_last.pt") <= 1e-5
    # a third epoch: the compiled run's checkpoint resumed eagerly, the eager run's compiled
    train(training_opts(variable_batch_args(digits, results, "compiled", 3, compile_=False)))
    train(training_opts(variable_batch_args(digits, results, "eager", 3, compile_=True)))
    assert "epoch 2 training" in (eager / "train.log").read_text()
    assert max_weight_difference(compiled / "checkpoint_last.pt", eager / "checkpoint_last.pt") <= 1e-5


def test_evaluation_of_images_of_their_own_sizes_shares_a_dynamic_graph(fresh_dynamo):
    """An evaluation script's model (detection, segmentation: images of their own sizes) compiles
    one static graph, then one with dynamic sizes, never one per size."""
    from engine.evaluation import evaluate

    opts = training_opts(["--common.config-file", "config/classification/demo/parcnet_digits.yaml"])
    runtime = Runtime(device=torch.device("cpu"), compile=CompileSettings(backend="eager"))
    sizes = [(20 + 2 * i, 30 - i) for i in range(12)]  # more sizes than dynamo's default recompile limit
    loader = [{"image": torch.randint(0, 256, (1, 3, h, w), dtype=torch.uint8), "label": torch.tensor([i % 10])}
              for i, (h, w) in enumerate(sizes)]
    model = TinyClassifier()
    stats = evaluate(model, loader, nn.CrossEntropyLoss(), ["loss", "top1"], runtime, opts=opts)
    assert stats.metrics["top1"].state[1] == 12
    assert counters["stats"]["unique_graphs"] == 2
    assert GRAPHS.total() == 12
