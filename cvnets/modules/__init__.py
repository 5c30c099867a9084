"""Blocks built from layers: inverted residual, channel attention, the ParC operator, block and
stage, the transformer encoder and the MobileViT block."""
from cvnets.modules.aspp import ASPP, ASPPPooling
from cvnets.modules.channel_attention import ChannelAttention
from cvnets.modules.inverted_residual import InvertedResidual
from cvnets.modules.mobilevit_block import MobileViTBlock
from cvnets.modules.parc import INSTANCE_KERNEL_METHODS, ParCConv, circular_conv, circular_conv_depthwise
from cvnets.modules.parc_block import PARC_KERNELS, BigKernelBlock, ParCBlock, build_parc_block
from cvnets.modules.parc_stage import FUSIONS, ParCStage
from cvnets.modules.ssd_head import SSDHead
from cvnets.modules.transformer import MultiHeadAttention, TransformerEncoder

__all__ = [
    "ASPP", "ASPPPooling", "ChannelAttention", "InvertedResidual", "MobileViTBlock", "ParCConv", "ParCBlock", "BigKernelBlock",
    "ParCStage", "SSDHead", "MultiHeadAttention", "TransformerEncoder", "build_parc_block", "circular_conv",
    "circular_conv_depthwise", "INSTANCE_KERNEL_METHODS", "PARC_KERNELS", "FUSIONS",
]
