"""ParC modules folded for inference (made by :func:`cvnets.misc.fuse.fuse_for_inference`).

A ParC convolution is linear in its input, so the affine steps around it fold away:

* a batch norm in front of it (``pre_Norm_1``/``pre_Norm_2`` of the ParC block) or after it (the
  ``bn`` after the ParC pair of the ParC ConvNets) scales the kernel of each channel, and its shift
  becomes a constant;
* a position embedding added in front of it becomes a constant too: ``ParC(x + pe) = ParC(x) +
  ParC(pe)``, a map that varies along the convolution's axis.

So each folded module computes ``ParC'(x) + B`` with scaled kernels and one constant map ``B`` per
feature size, ``B`` being what the original module gives for a zero input. The scaled kernels,
prepared for the chosen implementation, and ``B`` make a *plan*; plans are computed per feature
size (cached in eager inference) or made ahead for known sizes (:meth:`PlannedModule.prepare`),
in which case they are buffers and a compiled or exported graph holds them as constants.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn

from cvnets.layers.folding import norm_affine
from cvnets.modules.instance_cache import InstanceCache
from cvnets.modules.parc import (ParCConv, check_kernel_size, circular_conv, circulant, implementation_for,
                                 instance_tensor, parc_depthwise, prepare_kernel)
from cvnets.modules.parc_block import ParCBlock, _shuffle_halves

Plan = Tuple[Tuple[str, ...], List[Tensor]]


def _constant(tensor: Optional[Tensor]) -> Optional[Tensor]:
    return None if tensor is None else tensor.detach().clone()


def _depthwise_on_map(m: Tensor, kernel: Tensor, bias: Optional[Tensor], axis: int) -> Tensor:
    """ParC of a ``1 x C x h x w`` map that may be constant (size 1) along ``axis``."""
    if m.shape[axis] == 1:  # every tap sees the same value
        out = m * kernel.sum(1).view(1, -1, 1, 1)
    else:
        out = parc_depthwise(m, circulant(kernel), "circulant", None, 2 if axis == 2 else 3)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


class PlannedModule(nn.Module):
    """A module whose forward uses a plan (tensors derived from its buffers) per feature size."""

    def __init__(self) -> None:
        super().__init__()
        self._cache = InstanceCache()
        self._prepared: Dict[Tuple, int] = {}

    def _plan_key(self, h: int, w: int) -> Tuple:
        raise NotImplementedError

    def _make_plan(self, h: int, w: int, impls: Tuple[str, ...]) -> List[Tensor]:
        raise NotImplementedError

    def _sources(self) -> List[Tensor]:
        return [b for b in self.buffers(recurse=False) if b is not None]

    def _plan(self, h: int, w: int, probe: Tensor) -> Plan:
        key = self._plan_key(h, w)
        count = self._prepared.get(key)
        if count is not None:
            return key[-1], [getattr(self, f"plan_{i}_{self._name(key)}") for i in range(count)]
        impls = key[-1]
        return impls, self._cache.get(key, self._sources(), lambda: self._make_plan(h, w, impls), probe=probe)

    @staticmethod
    def _name(key: Tuple) -> str:
        sizes = "x".join(str(v) for v in key[:-1])
        return f"{sizes}_{'_'.join(key[-1])}"

    def prepare(self, h: int, w: int) -> None:
        """Make the plan for an ``h x w`` input now and keep it as buffers."""
        key = self._plan_key(h, w)
        if key in self._prepared:
            return
        with torch.no_grad():
            tensors = self._make_plan(h, w, key[-1])
        for i, tensor in enumerate(tensors):
            self.register_buffer(f"plan_{i}_{self._name(key)}", tensor, persistent=False)
        self._prepared[key] = len(tensors)


def _add_map(x: Tensor, constant: Tensor) -> Tensor:
    """``x + constant`` for a constant ``1 x C x H x W`` map, summed over flattened pixels: the same
    numbers, in a form ExecuTorch's XNNPACK delegate runs (a 4-D constant operand of an addition
    makes it fail to propagate shapes at run time)."""
    n, c, h, w = x.shape
    return (x.flatten(2) + constant.flatten(2)).view(n, c, h, w)


class FusedParCBlock(PlannedModule):
    """A :class:`~cvnets.modules.parc_block.ParCBlock` in eval mode with its pre-norms and
    position embeddings folded into scaled kernels and two constant maps; ``ffn`` and ``ca`` are
    the block's own (folded in turn by ``fuse_for_inference``)."""

    def __init__(self, block: ParCBlock) -> None:
        super().__init__()
        self.dim, self.mid_mix, self.use_ca = block.dim, block.mid_mix, block.use_ca
        self.instance_kernel_method = block.instance_kernel_method
        for i, meta in enumerate(block._meta_kernels()):
            self.register_buffer(f"meta_kernel_{i}", _constant(meta))
        for i, pe in enumerate(block._meta_pes()):
            self.register_buffer(f"meta_pe_{i}", _constant(pe))
        biases = [block.meta_1_H_bias, block.meta_1_W_bias, block.meta_2_W_bias, block.meta_2_H_bias]
        for i, bias in enumerate(biases):
            self.register_buffer(f"bias_{i}", _constant(bias))
        for i, norm in enumerate((block.pre_Norm_1, block.pre_Norm_2)):
            scale, shift = norm_affine(norm)
            self.register_buffer(f"scale_{i}", scale)
            self.register_buffer(f"shift_{i}", shift)
        self.use_pe = block.use_pe
        self.ffn = block.ffn
        self.ca = block.ca if block.use_ca else None

    def _plan_key(self, h: int, w: int) -> Tuple:
        return h, w, (implementation_for(h), implementation_for(w))

    def _make_plan(self, h: int, w: int, impls: Tuple[str, ...]) -> List[Tensor]:
        method = self.instance_kernel_method
        sizes_axes = [(h, 2), (w, 3), (h, 2), (w, 3)]  # kernels 1_H, 1_W, 2_H, 2_W
        kernels = [instance_tensor(getattr(self, f"meta_kernel_{i}"), size, axis, method).flatten(1)
                   for i, (size, axis) in enumerate(sizes_axes)]
        pes = [instance_tensor(getattr(self, f"meta_pe_{i}"), size, axis, method)
               for i, (size, axis) in enumerate(sizes_axes)] if self.use_pe else [None] * 4
        scales = [self.scale_0.view(-1, 1), self.scale_1.view(-1, 1)]
        # the linear part: kernels of the first convolutions scaled by the pre-norms
        prepared = [prepare_kernel(kernels[0] * scales[0], impls[0]), prepare_kernel(kernels[1] * scales[1], impls[1]),
                    prepare_kernel(kernels[3], impls[1]), prepare_kernel(kernels[2], impls[0])]
        # the constant part: the block's spatial path on a zero input
        maps = []
        for half, (pe, axis) in enumerate(((pes[0], 2), (pes[1], 3))):
            scale, shift = getattr(self, f"scale_{half}"), getattr(self, f"shift_{half}")
            start = shift.view(1, -1, 1, 1) if pe is None else pe * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)
            maps.append(_depthwise_on_map(start, kernels[half], getattr(self, f"bias_{half}"), axis))
        if self.mid_mix:
            full = torch.broadcast_shapes(maps[0].shape, maps[1].shape)
            maps = list(_shuffle_halves(maps[0].expand(full), maps[1].expand(full)))
        if self.use_pe:
            maps = [maps[0] + pes[3], maps[1] + pes[2]]
        b_1 = _depthwise_on_map(maps[0], kernels[3], self.bias_2, 3)
        b_2 = _depthwise_on_map(maps[1], kernels[2], self.bias_3, 2)
        return prepared + [b_1.contiguous(), b_2.contiguous()]

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        (impl_h, impl_w), (k_1h, k_1w, k_2w, k_2h, b_1, b_2) = self._plan(h, w, x)
        x_1, x_2 = x[:, :self.dim], x[:, self.dim:]  # slices: ExecuTorch's XNNPACK delegate takes them, not a split
        y_1 = parc_depthwise(x_1, k_1h, impl_h, None, axis=2)
        y_2 = parc_depthwise(x_2, k_1w, impl_w, None, axis=3)
        if self.mid_mix:
            y_1, y_2 = _shuffle_halves(y_1, y_2)
        y_1 = parc_depthwise(y_1, k_2w, impl_w, None, axis=3)
        y_2 = parc_depthwise(y_2, k_2h, impl_h, None, axis=2)
        out = torch.cat((_add_map(x_1 + y_1, b_1), _add_map(x_2 + y_2, b_2)), dim=1)
        mixed = self.ffn(out)
        return out + (self.ca(mixed) if self.ca is not None else mixed)


class FusedParCConv(PlannedModule):
    """A :class:`~cvnets.modules.parc.ParCConv` with its position embedding folded into a constant
    map and, when ``scale``/``shift`` are given, the batch norm that follows it folded in too."""

    def __init__(self, op: ParCConv, scale: Optional[Tensor] = None, shift: Optional[Tensor] = None) -> None:
        super().__init__()
        self.direction, self.axis, self.channels, self.groups = op.direction, op.axis, op.channels, op.groups
        self.global_kernel_size, self.resize, self.use_pe = op.global_kernel_size, op.resize, op.use_pe
        weight = op.gcc_conv.weight.detach()
        bias = op.gcc_conv.bias.detach() if op.gcc_conv.bias is not None else torch.zeros(weight.shape[0])
        if scale is not None:
            weight = weight * scale.view(-1, 1, 1, 1)
            bias = bias * scale + shift
        self.register_buffer("weight", weight.clone())
        self.register_buffer("bias", bias.clone())
        self.register_buffer("pe", _constant(op.pe) if op.use_pe else None)

    def _plan_key(self, h: int, w: int) -> Tuple:
        size = h if self.axis == 2 else w
        return (size, (implementation_for(size),))

    def _make_plan(self, h: int, w: int, impls: Tuple[str, ...]) -> List[Tensor]:
        size = h if self.axis == 2 else w
        check_kernel_size(self, size)
        weight = instance_tensor(self.weight, size, self.axis, "interpolation_bilinear")
        if self.use_pe:
            pe = instance_tensor(self.pe, size, self.axis, "interpolation_bilinear")
            constant = circular_conv(pe, weight, self.bias, self.axis, self.groups)
        else:
            constant = self.bias.view(1, -1, 1, 1)
        if self.groups == self.channels:
            weight = prepare_kernel(weight.flatten(1), impls[0])
        return [weight, constant.contiguous()]

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        (impl,), (weight, constant) = self._plan(h, w, x)
        if self.groups == self.channels:
            return parc_depthwise(x, weight, impl, None, self.axis) + constant
        return circular_conv(x, weight, None, self.axis, self.groups) + constant

    def extra_repr(self) -> str:
        return f"channels={self.channels}, direction={self.direction}, groups={self.groups}, folded"


def fold_norm_into_parc_pair(first: ParCConv, second: ParCConv,
                             norm: nn.Module) -> Tuple[FusedParCConv, FusedParCConv]:
    """``norm(cat(first(a), second(b)))``: the norm's halves fold into the two ParC convolutions."""
    scale, shift = norm_affine(norm)
    c = first.channels
    return FusedParCConv(first, scale[:c], shift[:c]), FusedParCConv(second, scale[c:], shift[c:])
