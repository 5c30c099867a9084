"""Published results of the named models (``utils.zoo``), with where they were published.

These are the papers' numbers, not ours: the benchmark charts (``main_benchmark.py
--benchmark.plot``) place them against the parameters, multiply-adds and latency measured here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

PARCNET = "Zhang et al., ParC-Net, ECCV 2022 (arXiv 2203.03952) and github.com/hkzhang91/ParC-Net"
PARC_CONVNETS = ("github.com/hkzhang91/ParC-Net README, 'Applying EdgeFormer designs on various lightweight "
                 "backbones' (ResNet50 trained with the ConvNeXt recipe); Fast-ParC, arXiv 2210.04020")
MOBILEVIT = "Mehta and Rastegari, MobileViT, ICLR 2022 (arXiv 2110.02178)"


@dataclass(frozen=True)
class PublishedResult:
    """``metric`` (``top1``: ImageNet-1k top-1 %, ``AP``: COCO box AP with SSD, ``mIoU``: PASCAL
    VOC 2012 val mIoU with DeepLabV3) = ``value``, published in ``source``."""

    metric: str
    value: float
    source: str


PUBLISHED: Dict[str, PublishedResult] = {
    "parcnet_s": PublishedResult("top1", 78.6, PARCNET),
    "mobilevit_xs": PublishedResult("top1", 74.8, MOBILEVIT),
    "mobilevit_s": PublishedResult("top1", 78.4, MOBILEVIT),
    "parc_convnext_xt": PublishedResult("top1", 78.3, PARC_CONVNETS),
    "convnext_xt": PublishedResult("top1", 77.5, PARC_CONVNETS),
    "parc_resnet50": PublishedResult("top1", 79.6, PARC_CONVNETS),
    "resnet50": PublishedResult("top1", 79.1, PARC_CONVNETS),
    "parc_mobilenetv2": PublishedResult("top1", 71.1, PARC_CONVNETS),
    "mobilenetv2": PublishedResult("top1", 70.2, PARC_CONVNETS),
    "ssd_parcnet_s": PublishedResult("AP", 28.8, PARCNET),
    "ssd_mobilevit_s": PublishedResult("AP", 27.7, MOBILEVIT),
    "ssd_mobilevit_xs": PublishedResult("AP", 24.8, MOBILEVIT),
    "deeplabv3_parcnet_s": PublishedResult("mIoU", 79.7, PARCNET),
    "deeplabv3_mobilevit_s": PublishedResult("mIoU", 79.1, MOBILEVIT),
    "deeplabv3_mobilevit_xs": PublishedResult("mIoU", 77.1, MOBILEVIT),
}
