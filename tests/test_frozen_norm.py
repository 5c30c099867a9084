"""Freezing normalization swaps in FrozenBatchNorm: fixed statistics, same state_dict names."""
from __future__ import annotations

import torch
from torch import nn

from conftest import training_opts


def small_net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Conv2d(8, 8, 1), nn.GroupNorm(2, 8), nn.Flatten(), nn.LazyLinear(4))
    net(torch.randn(2, 3, 6, 6))
    with torch.no_grad():
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
        net[1].weight.uniform_(0.5, 2)
        net[1].num_batches_tracked.fill_(17)
    return net


def test_frozen_model_computes_what_the_eval_model_does_also_in_train_mode():
    from cvnets.layers import FrozenBatchNorm, freeze_norm_layers

    net = small_net()
    x = torch.randn(4, 3, 6, 6)
    expected = net.eval()(x)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    frozen = freeze_norm_layers(net).train()
    assert isinstance(frozen[1], FrozenBatchNorm)
    torch.testing.assert_close(frozen(x), expected)
    frozen(x).sum().backward()  # training steps leave the statistics and affine values alone
    assert list(frozen.state_dict()) == list(state)
    for key, value in frozen.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert frozen[4].weight.grad is None and not frozen[4].weight.requires_grad
    assert frozen[0].weight.grad is not None


def test_frozen_and_unfrozen_checkpoints_load_into_each_other_strictly():
    from cvnets.layers import freeze_norm_layers

    plain, frozen = small_net(), freeze_norm_layers(small_net())
    frozen.load_state_dict(plain.state_dict(), strict=True)
    plain.load_state_dict(frozen.state_dict(), strict=True)


def test_freeze_batch_norm_option_freezes_a_configured_model():
    from cvnets import get_model
    from cvnets.layers import FrozenBatchNorm

    opts = training_opts(["--common.config-file", "config/classification/edgeformer/edgeformer_xs.yaml",
                          "--model.classification.freeze-batch-norm"])
    model = get_model(opts).train()
    norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm2d, FrozenBatchNorm))]
    assert norms and all(isinstance(m, FrozenBatchNorm) for m in norms)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model(torch.rand(2, 3, 64, 64))  # a training-mode forward leaves every statistic as it was
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
