"""Weight initialisation selected by ``model.layer.conv_init`` and ``model.layer.linear_init``."""
from __future__ import annotations

from typing import Any, Optional, Union

from torch import nn

from cvnets.layers.normalization import NORM_TYPES
from utils.errors import ConfigError

INIT_METHODS = ("kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform", "normal", "trunc_normal")


def init_weight(module: Union[nn.Conv2d, nn.Linear], method: str, std: Optional[float]) -> None:
    """Initialise ``module.weight`` by ``method`` and zero its bias."""
    weight = module.weight
    if weight is not None:
        if method == "kaiming_normal":
            nn.init.kaiming_normal_(weight, mode="fan_out")
        elif method == "kaiming_uniform":
            nn.init.kaiming_uniform_(weight, mode="fan_out")
        elif method == "xavier_normal":
            nn.init.xavier_normal_(weight)
        elif method == "xavier_uniform":
            nn.init.xavier_uniform_(weight)
        elif method in ("normal", "trunc_normal"):
            sigma = 1.0 / weight.size(1) if std is None else std
            (nn.init.normal_ if method == "normal" else nn.init.trunc_normal_)(weight, mean=0.0, std=sigma)
        else:
            raise ConfigError(f"unknown weight initialisation {method!r}; choose one of: {', '.join(INIT_METHODS)}")
    if module.bias is not None:
        nn.init.zeros_(module.bias)


def initialize_weights(opts: Any, model: nn.Module) -> None:
    """Initialise every convolution, linear and normalization layer of ``model`` as configured."""
    conv_method = getattr(opts, "model.layer.conv_init")
    conv_std = getattr(opts, "model.layer.conv_init_std_dev")
    linear_method = getattr(opts, "model.layer.linear_init")
    linear_std = getattr(opts, "model.layer.linear_init_std_dev")
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            init_weight(module, conv_method, conv_std)
        elif isinstance(module, nn.Linear):
            init_weight(module, linear_method, linear_std)
        elif isinstance(module, NORM_TYPES):
            if module.weight is not None:
                nn.init.ones_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
