"""A cache of tensors derived from parameters (ParC instance kernels, circulant matrices, FFT
spectra) per feature size, for eager inference only.

The cache is consulted only when nothing records the computation: it is bypassed while gradients
are wanted, and under every tracer or compiler (TorchScript tracing, ``torch.fx``, dynamo and
``torch.compile``, ``torch.export``, both ONNX exporters) and for fake, meta or subclassed
tensors. Those see the derivation as ordinary operations, so a compiled graph has no guard on
a parameter's address or version and an exported graph holds no stale constant.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Hashable, Sequence

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import _get_current_dispatch_mode


def is_tracing() -> bool:
    """True while a tracer, compiler or exporter records the current computation."""
    if torch.compiler.is_compiling():  # dynamo, torch.compile, strict torch.export
        return True
    if torch.compiler.is_exporting() or torch.jit.is_tracing() or torch.jit.is_scripting():
        return True
    if torch.onnx.is_in_onnx_export() or torch.fx._symbolic_trace.is_fx_symbolic_tracing():
        return True
    return _get_current_dispatch_mode() is not None  # fake tensor, proxy and functional modes


def _plain(tensor: Tensor) -> bool:
    return type(tensor) in (Tensor, nn.Parameter) and tensor.device.type != "meta"


class InstanceCache:
    """Remembers tensors derived from parameters per key (a feature size) while the parameters are
    unchanged and nothing records the computation, i.e. in eager inference."""

    def __init__(self, max_entries: int = 4) -> None:
        self.max_entries = max_entries
        self._entries: Dict[Hashable, Any] = {}

    @staticmethod
    def usable(params: Sequence[Tensor], probe: Tensor = None) -> bool:
        """Whether a cached value may stand for a fresh computation from ``params`` (and an input ``probe``)."""
        if is_tracing():
            return False
        if torch.is_grad_enabled() and any(p.requires_grad for p in params):
            return False
        tensors = list(params) + ([probe] if probe is not None else [])
        return all(_plain(t) for t in tensors)

    def get(self, key: Hashable, params: Sequence[Tensor], compute: Callable[[], Any], probe: Tensor = None) -> Any:
        if not self.usable(params, probe):
            return compute()
        stamp = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in params)
        # values made under inference mode are inference tensors, which a graph cannot save for backward
        full_key = (key, stamp, torch.is_inference_mode_enabled())
        value = self._entries.get(full_key)
        if value is None:
            value = compute()
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[full_key] = value
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __deepcopy__(self, memo: Dict[int, Any]) -> "InstanceCache":
        return InstanceCache(self.max_entries)

    def __getstate__(self) -> Dict[str, Any]:
        return {"max_entries": self.max_entries, "_entries": {}}
