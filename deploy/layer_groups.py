"""The groups of layers that INT8 quantization may keep in float32, and which group an operation
of an exported graph belongs to.

An operation is described by its module stack, ``(module path, class name)`` pairs from the
outermost module to the innermost (ONNX nodes of the dynamo exporter carry it in their
``namespace`` metadata, ``torch.export`` nodes in ``nn_module_stack``):

* ``parc``: the operations a ParC convolution or ParC block performs itself (its circulant or
  global convolution products, position embeddings and biases), not those of its children;
* ``se``: the channel attention (squeeze-excitation) of the ParC blocks;
* ``classifier``: the final classifier;
* ``decoder``: what an SSD export computes after its heads itself (box decoding against the
  anchors, the class softmax).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

GROUPS = ("parc", "se", "classifier", "decoder")
PARC_CLASSES = ("ParCConv", "ParCBlock", "FusedParCConv", "FusedParCBlock", "BigKernelBlock")
SE_CLASSES = ("ChannelAttention",)
DECODER_CLASSES = ("DecodedDetector",)

Stack = Sequence[Tuple[str, str]]


def group_of(stack: Stack) -> Optional[str]:
    """The group (of :data:`GROUPS`) of an operation with module stack ``stack``, or ``None``."""
    if not stack:
        return None
    classes = [name.rsplit(".", 1)[-1] for _, name in stack]
    if any(name in SE_CLASSES for name in classes):
        return "se"
    if any("classifier" in path.split(".") for path, _ in stack):
        return "classifier"
    if classes[-1] in PARC_CLASSES:
        return "parc"
    if classes[-1] in DECODER_CLASSES:
        return "decoder"
    return None


def onnx_stack(namespace: str) -> Stack:
    """The module stack of an ONNX node from its ``namespace`` metadata
    (``": Root/layer_1: pkg.Class/layer_1.conv: torch.nn.Conv2d/conv2d: aten.conv2d.default"``)."""
    stack = []
    for entry in namespace.split("/"):
        path, _, name = entry.rpartition(": ")
        if name and not name.startswith("aten."):
            stack.append((path, name))
    return stack
