"""Fully connected layer."""
from __future__ import annotations

from torch import nn


class LinearLayer(nn.Linear):
    """``nn.Linear`` under the project's name; applies to the last dimension of any input."""
