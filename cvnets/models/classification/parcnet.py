"""ParC-Net (published as EdgeFormer, ECCV 2022), registered as ``edgeformer`` like the reference
configs name it (the registry and option names are the reference's; the code says ParC-Net)."""
from __future__ import annotations

import argparse
from typing import Any, Optional

from torch import nn

from cvnets.layers import ConvLayer
from cvnets.models.classification.encoder import BaseEncoder, dilation_plan, mv2_layer
from cvnets.models.classification.parcnet_config import SCALES, MV2Spec, ParCSpec
from cvnets.models.registry import CLS_MODEL_REGISTRY
from cvnets.modules import FUSIONS, INSTANCE_KERNEL_METHODS, PARC_KERNELS, ParCStage
from utils.errors import ConfigError
from utils.opts import add_options


@CLS_MODEL_REGISTRY.register("edgeformer")
class ParCNet(BaseEncoder):
    """ParC-Net backbone and classifier.

    ``output_stride`` (8 or 16) replaces the stride of the last stages by dilation, for dense
    prediction. As in the reference, the down-sampling block of the last stage is also
    registered as ``residual`` (released checkpoints hold its weights under both names).
    """

    def __init__(self, opts: Any, output_stride: Optional[int] = None) -> None:
        super().__init__()
        mode = getattr(opts, "model.classification.edge.mode")
        if mode != "outer_frame_v1":
            raise ConfigError(f"model.classification.edge.mode {mode!r} is not supported; use outer_frame_v1 "
                              f"(the structure of the paper and of every released checkpoint)")
        scale = getattr(opts, "model.classification.edge.scale")
        if scale not in SCALES:
            raise ConfigError(f"model.classification.edge.scale {scale!r}: choose one of {', '.join(SCALES)}")
        spec = SCALES[scale]
        parc = dict(
            kernel=getattr(opts, "model.classification.edge.kernel"),
            fusion=getattr(opts, "model.classification.edge.fusion"),
            instance_kernel_method=getattr(opts, "model.classification.edge.instance_kernel"),
            use_pe=bool(getattr(opts, "model.classification.edge.use_pe")),
            mid_mix=bool(getattr(opts, "model.classification.edge.mid_mix")),
        )
        dilate = (False, False, False) + dilation_plan(output_stride)

        self.conv_1 = ConvLayer(opts, 3, spec.stem_channels, spec.stem_kernel, stride=2)
        in_channels = spec.stem_channels
        layers = []
        for index, (stage, dilate_stage) in enumerate(zip(spec.stages, dilate), start=1):
            if isinstance(stage, MV2Spec):
                layer = mv2_layer(opts, in_channels, stage)
            else:
                layer = self._parc_layer(opts, in_channels, stage, dilate_stage, parc)
            self._record_stage(stage.out_channels, stage.stride, dilate_stage)
            layers.append(layer)
            in_channels = stage.out_channels
        # registration order gives the reference's state_dict order
        self.layer_1, self.layer_2 = layers[0], layers[1]
        self.residual = layers[4][0]
        self.layer_3, self.layer_4, self.layer_5 = layers[2], layers[3], layers[4]
        self._finish(opts, in_channels, spec.exp_factor)

    def _parc_layer(self, opts: Any, in_channels: int, stage: ParCSpec, dilate: bool, parc: dict) -> nn.Sequential:
        downsample = self._downsample(opts, in_channels, stage.out_channels, stage.stride, stage.mv_expand_ratio,
                                      dilate)
        parc_stage = ParCStage(opts, stage.out_channels, stage.parc_channels, stage.ffn_channels, stage.n_blocks,
                               meta_kernel_size=stage.meta_kernel_size, big_kernel_size=stage.big_kernel_size,
                               ffn_dropout=stage.ffn_dropout, dropout=stage.dropout, **parc)
        return nn.Sequential(downsample, parc_stage)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("ParC-Net (model.classification.name: edgeformer)")
        add_options(group, "--model.classification.edge", [
            ("mode", "outer_frame_v1", "stage structure (only outer_frame_v1, the paper's, is implemented)",
             dict(choices=["outer_frame_v1", "outer_frame_v2"])),
            ("scale", "scale_s", "model size", dict(choices=list(SCALES))),
            ("kernel", "gcc_ca", "gcc: ParC convolutions, bkc: big zero-padded kernels; _ca adds channel attention",
             dict(choices=PARC_KERNELS)),
            ("fusion", "concat", "how a ParC stage fuses its input and its global features", dict(choices=FUSIONS)),
            ("instance-kernel", "crop", "how instance kernels and embeddings are made for other feature sizes",
             dict(choices=INSTANCE_KERNEL_METHODS)),
            ("mid-mix", False, "shuffle channels between the two ParC convs"),
            ("use-pe", False, "position embeddings in each stage's first block"),
        ])
        return parser
